// SPDX-License-Identifier: GPL-2.0

//! RCU publication of an owned value, freed by an RCU callback.
//!
//! [`RcuBox`] is `rcu_assign_pointer()`/`rcu_dereference()` over a boxed
//! value; a value it unpublishes is freed by `call_rcu()` once no reader can
//! still hold it, like `kfree_rcu()`. Nothing here waits for a grace period
//! except dropping the box itself (`rcu_barrier()`, at module exit).

#![allow(unsafe_code)]

use core::{marker::PhantomData, ptr};

use kernel::{
    bindings,
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Full},
        rcu,
    },
    types::Opaque,
};

/// Evidence that the RCU read lock is held on this CPU for as long as the
/// value lives.
///
/// # Safety
///
/// Implementors are only values that exist while the RCU read lock is held
/// by the current task (or, in IRQ or NMI context, on the current CPU), and
/// are not `Send`.
pub(crate) unsafe trait ReadSide {}

// SAFETY: A `Guard` holds the read lock while it exists (its type
// invariant) and is not `Send`.
unsafe impl ReadSide for rcu::Guard {}

/// Evidence that a caller up the stack holds the RCU read lock: for code that
/// must not call `rcu_read_lock()` itself, such as the replacement of
/// `find_kallsyms_symbol()`, whose callers hold it and which must call
/// nothing traceable (`__rcu_read_lock()` is).
pub(crate) struct CallerHolds {
    _not_send: PhantomData<*mut ()>,
}

impl CallerHolds {
    /// The evidence, taken on the caller's word.
    ///
    /// # Safety
    ///
    /// The RCU read lock is held, and stays held for as long as the returned
    /// value lives: keep it on the stack of a function that runs inside the
    /// caller's read-side critical section, and do not return it.
    // Used by the ftrace hook (accel.rs), which not every kernel has.
    #[cfg_attr(
        not(all(CONFIG_DYNAMIC_FTRACE_WITH_ARGS, any(CONFIG_X86_64, CONFIG_ARM64))),
        expect(dead_code)
    )]
    pub(crate) unsafe fn assume() -> Self {
        Self {
            _not_send: PhantomData,
        }
    }
}

// SAFETY: `CallerHolds::assume()`'s caller promises the read lock is held
// while the value lives; it is not `Send` (`*mut ()`).
unsafe impl ReadSide for CallerHolds {}

/// A published value and the RCU callback head that frees it.
#[repr(C)]
struct Node<T> {
    head: Opaque<bindings::callback_head>,
    value: T,
}

/// An owned value published with RCU.
///
/// Readers get a `&T` valid for their RCU read-side critical section
/// ([`RcuBox::get`], `rcu_dereference()`); writers swap in a new value with
/// [`RcuBox::publish`] (`rcu_assign_pointer()`) or remove it with
/// [`RcuBox::clear`]. The previous value is dropped by an RCU callback after
/// a grace period, in softirq context: `T`'s destructor must not sleep
/// (`kfree()` and `kvfree()` are fine).
pub(crate) struct RcuBox<T: Send + Sync> {
    ptr: Atomic<*mut Node<T>>,
    _owns: PhantomData<KBox<Node<T>>>,
}

// SAFETY: The box hands out `&T` to readers on any CPU (`T: Sync`) and drops
// `T` on whichever CPU runs the callback (`T: Send`); a node's callback head
// is only written by `call_rcu()`, by the one caller that unpublished it.
unsafe impl<T: Send + Sync> Send for RcuBox<T> {}
// SAFETY: See `Send`; the pointer itself is an atomic.
unsafe impl<T: Send + Sync> Sync for RcuBox<T> {}

impl<T: Send + Sync> RcuBox<T> {
    /// An empty box.
    pub(crate) const fn new() -> Self {
        Self {
            ptr: Atomic::new(ptr::null_mut()),
            _owns: PhantomData,
        }
    }

    /// The published value, valid while `_rcu` (the RCU read lock) is held.
    ///
    /// No lock, no allocation, no sleeping, and nothing traceable (the load
    /// is a Rust helper, which ftrace does not instrument): usable from any
    /// context, including the kernel's own symbol lookups.
    pub(crate) fn get<'a>(&'a self, _rcu: &'a impl ReadSide) -> Option<&'a T> {
        let p = self.ptr.load(Acquire);
        // SAFETY: A non-null pointer was published by `swap()` from a `KBox`,
        // and is only freed by the RCU callback `swap()` queued when it was
        // unpublished, which runs after a grace period; the RCU read lock is
        // held (`_rcu`, a `ReadSide`) and the returned borrow cannot outlive it.
        unsafe { p.as_ref() }.map(|node| &node.value)
    }

    /// Publishes `value`. On allocation failure nothing changes.
    pub(crate) fn publish(&self, value: T) -> Result {
        let node = KBox::new(
            Node {
                head: Opaque::uninit(),
                value,
            },
            GFP_KERNEL,
        )?;
        self.swap(KBox::into_raw(node));
        Ok(())
    }

    /// Unpublishes the value, if any. Never fails.
    pub(crate) fn clear(&self) {
        self.swap(ptr::null_mut());
    }

    /// Publishes `new` (from `KBox::into_raw()`, or null) and frees the
    /// previous value after a grace period.
    fn swap(&self, new: *mut Node<T>) {
        let old = self.ptr.xchg(new, Full);
        if old.is_null() {
            return;
        }
        // SAFETY: `old` came from `KBox::into_raw()` in `publish()` and was
        // published until the swap above, which this call alone saw: it is
        // ours, and its head is not queued. The callback frees it once every
        // reader that may have seen it has left its read-side section;
        // `Drop` waits for all callbacks before the code goes away.
        unsafe { bindings::call_rcu(Opaque::cast_into(&raw const (*old).head), Some(Self::free)) };
    }

    /// RCU callback: drops the node `head` belongs to.
    ///
    /// # Safety
    ///
    /// `head` is the `head` of a node queued by [`Self::swap`].
    unsafe extern "C" fn free(head: *mut bindings::callback_head) {
        let head = Opaque::cast_from(head);
        // SAFETY: `head` is the `head` field of a `Node<T>` (caller).
        let node = unsafe { kernel::container_of!(head, Node<T>, head) }.cast_mut();
        // SAFETY: The node came from `KBox::into_raw()` and is owned by this
        // callback alone since `swap()` unpublished it; a grace period has
        // elapsed, so no reader holds it.
        drop(unsafe { KBox::from_raw(node) });
    }
}

impl<T: Send + Sync> Drop for RcuBox<T> {
    fn drop(&mut self) {
        self.clear();
        // Every value this box unpublished is freed by a callback in this
        // module's code: wait for them all before it can be unloaded.
        // SAFETY: FFI call; the box is dropped in process context (module
        // exit), where waiting is allowed.
        unsafe { bindings::rcu_barrier() };
    }
}
