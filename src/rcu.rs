// SPDX-License-Identifier: GPL-2.0

//! RCU publication of an owned value, and freeing it after a grace period.
//!
//! [`RcuBox`] is `rcu_assign_pointer()`/`rcu_dereference()` over a `KBox`;
//! replacing its value hands back the old one as [`Retired`], which the owner
//! keeps until `poll_state_synchronize_rcu()` says no reader can still hold
//! it. Nothing here ever waits for a grace period unless a [`Retired`] value
//! is dropped early.

#![allow(unsafe_code)]

use core::{marker::PhantomData, ptr};

use kernel::{
    bindings,
    ffi::c_ulong,
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Full},
        rcu,
    },
};

/// An owned `KBox<T>` published with RCU.
///
/// Readers get a `&T` valid for their RCU read-side critical section
/// ([`RcuBox::get`], `rcu_dereference()`); writers swap in a new value with
/// [`RcuBox::replace`] (`rcu_assign_pointer()`), which hands back the old one
/// as a [`Retired`] value instead of waiting for a grace period.
pub(crate) struct RcuBox<T: Send + Sync> {
    ptr: Atomic<*mut T>,
    _owns: PhantomData<KBox<T>>,
}

impl<T: Send + Sync> RcuBox<T> {
    /// An empty box.
    pub(crate) const fn new() -> Self {
        Self {
            ptr: Atomic::new(ptr::null_mut()),
            _owns: PhantomData,
        }
    }

    /// The published value, valid while `_guard` (the RCU read lock) is held.
    ///
    /// No lock, no allocation, no sleeping: usable from any context.
    pub(crate) fn get<'a>(&'a self, _guard: &'a rcu::Guard) -> Option<&'a T> {
        let p = self.ptr.load(Acquire);
        // SAFETY: A non-null pointer was published by `replace()` from a
        // `KBox`, and is only freed by dropping the `Retired` value `replace()`
        // returned, which waits for a grace period that started after the
        // pointer was unpublished; the caller holds the RCU read lock
        // (`_guard`) and the returned borrow cannot outlive it.
        unsafe { p.as_ref() }
    }

    /// Publishes `new` and returns the previous value, which readers may
    /// still be using until a grace period has elapsed.
    pub(crate) fn replace(&self, new: Option<KBox<T>>) -> Option<Retired<T>> {
        let new_ptr = new.map_or(ptr::null_mut(), KBox::into_raw);
        let old = self.ptr.xchg(new_ptr, Full);
        if old.is_null() {
            return None;
        }
        // SAFETY: FFI call without preconditions; taken after the swap, so
        // the grace period it names starts after `old` was unpublished.
        let cookie = unsafe { bindings::get_state_synchronize_rcu() };
        Some(Retired {
            ptr: old,
            cookie,
            _owns: PhantomData,
        })
    }
}

impl<T: Send + Sync> Drop for RcuBox<T> {
    fn drop(&mut self) {
        // No reader can hold a borrow of `self` any more; the lockless readers
        // of `get()` on other CPUs are waited for by dropping the old value.
        drop(self.replace(None));
    }
}

/// A value unpublished from an [`RcuBox`]: RCU readers may still use it until
/// the grace period that started when it was unpublished has elapsed.
///
/// Dropping it frees the value, first waiting for that grace period if it
/// has not elapsed yet (so dropping may sleep; [`Retired::expired`] says
/// whether it would). Writers keep retired values and drop them once expired,
/// so module loads never wait for a grace period.
pub(crate) struct Retired<T: Send + Sync> {
    ptr: *mut T,
    cookie: c_ulong,
    _owns: PhantomData<KBox<T>>,
}

// SAFETY: `Retired<T>` owns a `KBox<T>` (no one else dereferences `ptr`
// except RCU readers holding `&T`, and `T: Sync`), so it moves between
// threads like the box.
unsafe impl<T: Send + Sync> Send for Retired<T> {}

impl<T: Send + Sync> Retired<T> {
    /// Whether the grace period has elapsed: dropping will not wait.
    pub(crate) fn expired(&self) -> bool {
        // SAFETY: FFI call without preconditions.
        unsafe { bindings::poll_state_synchronize_rcu(self.cookie) }
    }
}

impl<T: Send + Sync> Drop for Retired<T> {
    fn drop(&mut self) {
        // SAFETY: FFI call; we are in process context (writers and module
        // exit drop retired values), where waiting is allowed.
        unsafe { bindings::cond_synchronize_rcu(self.cookie) };
        // SAFETY: `ptr` came from `KBox::into_raw()` in `RcuBox::replace()`
        // and is owned by `self` alone; it was unpublished before `cookie`
        // was taken and the grace period `cookie` names has elapsed, so every
        // reader that could have seen it has left its read-side section.
        drop(unsafe { KBox::from_raw(self.ptr) });
    }
}
