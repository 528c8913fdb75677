// SPDX-License-Identifier: GPL-2.0

//! A kernel thread of modsym's own, for work that must not compete with the
//! task that asked for it: the index builds module events defer.
//!
//! A build queued by `insmod`'s COMING event would otherwise run on a shared
//! workqueue at normal priority, beside the load, and the loading shell, woken
//! on the CPU of the build, would wait for it. At nice 19 (as khugepaged) a
//! build yields to every ordinary task. The workqueue API cannot change a
//! worker's priority from a module (`apply_workqueue_attrs()` is not exported),
//! so this is a `kthread_worker`, the kernel's way to run work in a thread
//! whose scheduling is the caller's (`sched_set_normal()`).

#![allow(unsafe_code)]

use core::ptr::NonNull;

use kernel::{bindings, error::from_err_ptr, ffi::c_int, prelude::*, types::Opaque};

/// The priority a [`Worker`]'s thread runs at.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Priority {
    /// Nice 19: about 1.5% of a CPU that an ordinary task also wants.
    Background,
    /// Nice 0, as it starts: while it holds a lock others may wait for, or
    /// while a task waits for its work (no priority inversion).
    Normal,
}

/// A `kthread_worker`: one kernel thread running the [`WorkItem`]s queued on
/// it, one at a time.
///
/// # Invariants
///
/// `worker` was returned by `kthread_create_worker_on_node()`, its thread
/// `task` (not null) is running, and it is destroyed (only) on drop.
pub(crate) struct Worker {
    worker: NonNull<bindings::kthread_worker>,
    /// `worker->task`, read once here: the thread writes that field (the
    /// same value) when it starts.
    task: *mut bindings::task_struct,
}

// SAFETY: The kthread worker API may be called from any task.
unsafe impl Send for Worker {}
// SAFETY: See `Send`: every method only calls that API, or
// `sched_set_normal()`, which may be called on any task from any task.
unsafe impl Sync for Worker {}

impl Worker {
    /// Starts the thread, named `name` (as `ps` shows it), at
    /// [`Priority::Normal`].
    pub(crate) fn new(name: &CStr) -> Result<Self> {
        // SAFETY: `"%s"` with one C string argument, valid for the call.
        let worker = from_err_ptr(unsafe {
            bindings::kthread_create_worker_on_node(
                0,
                bindings::NUMA_NO_NODE,
                c"%s".as_char_ptr(),
                name.as_char_ptr(),
            )
        })?;
        let worker = NonNull::new(worker).ok_or(ENOMEM)?;
        // SAFETY: a worker just created: its thread exists, not woken yet,
        // and nothing else has the worker yet. On success `task` is set.
        let task = unsafe { (*worker.as_ptr()).task };
        // INVARIANT: created here, started below, destroyed on drop.
        let this = Self { worker, task };
        // kthreadd's nice value otherwise.
        this.set_priority(Priority::Normal);
        // SAFETY: `task` is the worker's new thread (`kthread_run_worker()`).
        unsafe { bindings::wake_up_process(task) };
        Ok(this)
    }

    /// Sets the thread's priority.
    pub(crate) fn set_priority(&self, priority: Priority) {
        let nice = match priority {
            Priority::Background => bindings::MAX_NICE as c_int,
            Priority::Normal => 0,
        };
        // SAFETY: the thread lives until the worker is destroyed (type
        // invariant); `sched_set_normal()` may be called on any task.
        unsafe { bindings::sched_set_normal(self.task, nice) };
    }

    /// Queues `work` to run on this thread; does nothing if it is queued
    /// already (it runs once, later than every earlier queueing).
    ///
    /// # Safety
    ///
    /// `work` is queued on no other worker; its function may be called with
    /// a pointer to it (that function's own contract holds for `work`); and
    /// [`WorkItem::cancel_sync`] is called after its last queueing, before
    /// this worker is dropped and before `work` goes away.
    pub(crate) unsafe fn queue(&self, work: &WorkItem) {
        // SAFETY: `worker` is valid (type invariant); `work` is initialised,
        // pinned, and stays so while queued or running (caller).
        unsafe { bindings::kthread_queue_work(self.worker.as_ptr(), work.work.get()) };
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // SAFETY: `worker` is valid and not used after this (type invariant).
        // Runs what is still queued (nothing, by the contract of `queue`),
        // then stops the thread and frees the worker.
        unsafe { bindings::kthread_destroy_worker(self.worker.as_ptr()) };
    }
}

/// A `kthread_work`: a function a [`Worker`] calls with a pointer to it.
#[pin_data]
pub(crate) struct WorkItem {
    #[pin]
    work: Opaque<bindings::kthread_work>,
}

impl WorkItem {
    /// A work item that calls `func`; `func` must only be called with a
    /// pointer to the `work` of a live `WorkItem` (the worker does that).
    pub(crate) fn new(
        func: unsafe extern "C" fn(*mut bindings::kthread_work),
    ) -> impl PinInit<Self> {
        pin_init!(Self {
            work <- Opaque::ffi_init(move |slot: *mut bindings::kthread_work| {
                // `kthread_init_work()` is a macro: what it does, field by field.
                // SAFETY: `slot` is valid for writes (`ffi_init` contract) and
                // pinned, so the list head may point to itself.
                unsafe {
                    slot.write(bindings::kthread_work {
                        node: bindings::list_head {
                            next: &raw mut (*slot).node,
                            prev: &raw mut (*slot).node,
                        },
                        func: Some(func),
                        worker: core::ptr::null_mut(),
                        canceling: 0,
                    })
                };
            }),
        })
    }

    /// The `WorkItem` whose `kthread_work` `work` points to.
    ///
    /// # Safety
    ///
    /// `work` points to the `work` field of a live `WorkItem` (what a
    /// [`Worker`] passes to the item's function).
    pub(crate) unsafe fn from_raw<'a>(work: *mut bindings::kthread_work) -> &'a Self {
        let work = Opaque::cast_from(work);
        // SAFETY: `work` is the `work` field of a live `WorkItem` (caller).
        unsafe { &*kernel::container_of!(work, Self, work) }
    }

    /// Dequeues the item if it is queued and waits until it no longer runs.
    ///
    /// # Safety
    ///
    /// The worker it was last queued on, if any, is alive.
    pub(crate) unsafe fn cancel_sync(&self) {
        // SAFETY: `work` is initialised, its worker alive (caller); an item
        // never queued is left alone.
        unsafe { bindings::kthread_cancel_work_sync(self.work.get()) };
    }
}
