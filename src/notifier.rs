// SPDX-License-Identifier: GPL-2.0

//! The module notifier: COMING, LIVE and GOING events, and the adoption of
//! modules loaded before modsym, all delivered under one lock.
//!
//! [`ModuleNotifier`] owns the state its events change (`Mutex<W>`), so the
//! lock every event takes is the lock that adoption and any other user of
//! that state take: the argument for why a [`ModuleRef`] stays valid while
//! it is used lives in this file alone. That includes the builds an event
//! defers to modsym's low-priority thread ([`Next::Build`], [`Worker`]),
//! which read a module outside the lock: its GOING event waits for them.

#![allow(unsafe_code)]

use core::ptr::NonNull;

use kernel::{
    bindings,
    error::to_result,
    ffi::{c_int, c_ulong, c_void},
    new_condvar, new_mutex,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        rcu, CondVar, Mutex, MutexGuard,
    },
    time::{msecs_to_jiffies, Delta, Instant, Monotonic},
    types::Opaque,
    ThisModule,
};

use crate::{
    kcall,
    kmod::{self, ModState, ModuleRef, Walk},
    worker::{Priority, WorkItem, Worker},
};

/// What an event asks for once it returns.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Nothing more.
    Done,
    /// [`ModuleEvents::build`] for this module, on the build thread, then
    /// [`ModuleEvents::built`] under the lock unless the module went first.
    Build,
}

/// Receiver of module life cycle events, see [`ModuleNotifier`].
///
/// Calls are serialised (the notifier's lock), so an implementation sees,
/// per module, `existing` or `coming`, then `live`, then `going`, with any of
/// them possibly missing (a module can fail before its LIVE event, and one
/// found LIVE by [`ModuleNotifier::adopt_existing`] gets no `coming`), and
/// `built` for a build it asked for, in between, unless `going` came first.
pub(crate) trait ModuleEvents: Send + Unpin + 'static {
    /// What [`Self::build`] makes.
    type Built: Send;
    /// Work that must follow a publication, see [`Self::follow_up`].
    type FollowUp: Send;
    /// `MODULE_STATE_COMING`: the module is formed, its init has not run.
    fn coming(&mut self, m: ModuleRef<'_>) -> Next;
    /// `MODULE_STATE_LIVE`: init succeeded; init memory is freed after return.
    fn live(&mut self, m: ModuleRef<'_>) -> Next;
    /// `MODULE_STATE_GOING`: the module is freed after return.
    fn going(&mut self, m: ModuleRef<'_>);
    /// A module that was already loaded when the notifier was registered,
    /// or, after [`Self::missed`] said so, any loaded module. It will get its
    /// `going` event (and `live`, if it is still in init) like any other.
    fn existing(&mut self, m: ModuleRef<'_>);
    /// Whether an event could not be handled in full (out of memory): every
    /// loaded module is then delivered again through [`Self::existing`]
    /// after the next event.
    fn missed(&self) -> bool;
    /// The module list was walked: the [`Self::existing`] calls that follow
    /// deliver every loaded module.
    fn walked(&mut self);
    /// The work an event deferred ([`Next::Build`]), on the build thread,
    /// outside the lock: module events do not wait for it. `m` has no init part
    /// (its init memory may be freed meanwhile); its core stays alive, since
    /// its GOING event waits until this returns.
    fn build(m: ModuleRef<'_>) -> Self::Built;
    /// Under the lock, the result of [`Self::build`] for a module whose GOING
    /// event has not come; returns work for [`Self::follow_up`], if any.
    fn built(&mut self, built: Self::Built) -> Option<Self::FollowUp>;
    /// Outside the lock, right after [`Self::built`] asked for it, on the
    /// build thread: the module's core stays alive as in [`Self::build`].
    fn follow_up(work: Self::FollowUp);
}

/// The state behind the event lock: the receiver's (reached through
/// `Deref`), and the builds it deferred.
pub(crate) struct Events<W> {
    receiver: W,
    /// Modules whose build is still to run, oldest first.
    queue: KVec<NonNull<bindings::module>>,
    /// The module whose build runs now, outside the lock.
    building: Option<NonNull<bindings::module>>,
    /// Its GOING event came meanwhile: the result is dropped.
    building_gone: bool,
    /// The notifier is being dropped: nothing more is built.
    closing: bool,
    /// When the last module event came: builds wait for [`BUILD_AFTER_QUIET`].
    last_event: Instant<Monotonic>,
}

/// A queued build starts once module events have been quiet this long, not
/// beside the `insmod` that asked for it or the next load of a burst (a
/// `modprobe` chain, udev at boot). Even at nice 19 a build slows a load that
/// runs at the same time: the two share caches and memory, and on a guest of
/// two virtual CPUs the host's cores too.
const BUILD_AFTER_QUIET: Delta = Delta::from_millis(50);

// SAFETY: The module pointers are only compared, and dereferenced under the
// rules of `ModuleNotifier`, from any thread.
unsafe impl<W: Send> Send for Events<W> {}

impl<W> core::ops::Deref for Events<W> {
    type Target = W;
    fn deref(&self) -> &W {
        &self.receiver
    }
}

impl<W> core::ops::DerefMut for Events<W> {
    fn deref_mut(&mut self) -> &mut W {
        &mut self.receiver
    }
}

/// A registered module notifier (`register_module_notifier()`) and the state
/// its events change.
///
/// # Invariants
///
/// `nb` is registered on the module notifier chain from the end of
/// initialisation until drop, and every event is delivered with `events`
/// held. `work` runs [`Self::run_builds`] on `worker`, and is neither queued
/// nor running after drop. A module is in `events.queue` or
/// `events.building` only between an event for it and its GOING event.
#[pin_data(PinnedDrop)]
pub(crate) struct ModuleNotifier<W: ModuleEvents> {
    #[pin]
    events: Mutex<Events<W>>,
    /// Signalled when a build ends (`events.building` cleared), and at drop.
    #[pin]
    build_ended: CondVar,
    /// A GOING event or drop waits for the running build: the thread runs at
    /// nice 0 (see [`Self::run_builds`]). Set under the lock, cleared under it
    /// when a build starts.
    build_waited: Atomic<bool>,
    /// The thread builds run on, at nice 19: an `insmod` that queues a build
    /// does not compete with it (see [`crate::worker`]).
    worker: Worker,
    #[pin]
    work: WorkItem,
    #[pin]
    nb: Opaque<bindings::notifier_block>,
    /// The module that registered the notifier: where walks of the module
    /// list start.
    this: &'static ThisModule,
}

// SAFETY: The notifier block is only touched by the notifier chain (under
// its own lock) and by registration and drop; `Mutex<W>` is `Send + Sync`
// for `W: Send`.
unsafe impl<W: ModuleEvents> Send for ModuleNotifier<W> {}
// SAFETY: See `Send`: `&ModuleNotifier` gives access to the mutex, the
// condition variable and the atomic, which are `Sync`, and to the worker and
// its work item only through the kthread worker API, which may be called from
// any task.
unsafe impl<W: ModuleEvents> Sync for ModuleNotifier<W> {}

impl<W: ModuleEvents> ModuleNotifier<W> {
    /// Registers a notifier delivering events to `state`; `this` is the
    /// calling module.
    pub(crate) fn register(state: W, this: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            this,
            events <- new_mutex!(Events {
                receiver: state,
                queue: KVec::new(),
                building: None,
                building_gone: false,
                closing: false,
                last_event: Instant::now(),
            }),
            build_ended <- new_condvar!("modsym::build_ended"),
            build_waited: Atomic::new(false),
            // Before `nb`: should it fail, the notifier is not registered yet.
            worker: Worker::new(c"modsym-build")?,
            work <- WorkItem::new(Self::run_builds),
            nb <- Opaque::try_ffi_init(|slot: *mut bindings::notifier_block| {
                // SAFETY: `slot` is valid for writes (`try_ffi_init` contract).
                unsafe {
                    slot.write(bindings::notifier_block {
                        notifier_call: Some(Self::call),
                        next: core::ptr::null_mut(),
                        priority: 0,
                    })
                };
                // SAFETY: `slot` is initialised and pinned inside `Self`, whose
                // destructor unregisters it before the memory goes away;
                // `events`, which the callback uses, is initialised before it.
                // INVARIANT: on success the block is registered.
                to_result(unsafe { bindings::register_module_notifier(slot) })
            }),
        })
    }

    /// Takes the lock every module event is delivered under: while it is
    /// held, no module modsym was told about can finish its GOING event (and
    /// be freed), nor its LIVE event (and lose its init memory).
    pub(crate) fn lock(&self) -> MutexGuard<'_, Events<W>> {
        self.events.lock()
    }

    /// Delivers [`ModuleEvents::existing`] for every module already loaded
    /// that the notifier would otherwise not hear about, oldest first.
    ///
    /// Why no module is missed or freed under us (registration ran before):
    ///
    /// - The event lock is held for the whole call, so any notification that
    ///   arrives meanwhile blocks until we are done, and is then delivered on
    ///   top of what we adopted (implementations dedupe by [`ModuleRef::id`]).
    /// - `register_module_notifier()` takes the chain's rwsem for writing, so
    ///   every chain call either completed before it (and its state change is
    ///   visible to us) or will include this notifier.
    /// - LIVE modules are adopted: a LIVE module is only freed by
    ///   `delete_module()`, which calls the GOING chain first, which blocks on
    ///   our lock. Their init table is not used (`init_ok: false`): the LIVE
    ///   chain may already have run and the init memory may be being freed.
    /// - COMING modules are adopted with their init table only if the COMING
    ///   chain already succeeded for them ([`ModuleRef::coming_chain_done`]):
    ///   from then on every way out (failed init, failed load, unload) runs
    ///   the GOING chain before freeing, and their LIVE chain, which precedes
    ///   freeing the init memory, blocks on our lock. Other COMING modules
    ///   are skipped: their COMING chain is yet to run (it includes us), or it
    ///   failed and they are freed without a GOING event, or it succeeded just
    ///   now and they get adopted by the `live` event later.
    /// - GOING and UNFORMED modules are skipped.
    ///
    /// The same argument holds inside an event, where the lock is held too:
    /// that is how missed modules are adopted again (see `call`).
    pub(crate) fn adopt_existing(&self) -> Result {
        Self::adopt(self.this, &mut self.events.lock())
    }

    /// [`Self::adopt_existing`] with the event lock held (`events`).
    fn adopt(this: &ThisModule, events: &mut Events<W>) -> Result {
        let mut found: KVec<(NonNull<bindings::module>, bool)> = KVec::new();
        // The list is collected under RCU, where allocations must not sleep.
        found.reserve(64, GFP_KERNEL)?;
        let mut tries = 0;
        loop {
            found.clear();
            let walk = {
                let guard = rcu::read_lock();
                kmod::for_each_module(this, &guard, |m| {
                    let init_ok = match m.state() {
                        ModState::Live => false,
                        ModState::Coming if m.coming_chain_done() => true,
                        _ => return Ok(()),
                    };
                    found.push((m.as_raw(), init_ok), GFP_NOWAIT)
                })?
            };
            // Busy: a module was being added to the list; that takes a moment.
            tries += 1;
            match walk {
                Walk::Done => break,
                Walk::Busy if tries < 1000 => kcall::cond_resched(),
                Walk::Busy => return Err(EBUSY),
            }
        }
        events.walked();
        // The list is newest first.
        for &(ptr, init_ok) in found.iter().rev() {
            // SAFETY: See the argument above: the module cannot pass its GOING
            // (nor, with `init_ok`, its LIVE) event while we hold the lock, so
            // it stays alive for the call.
            events.existing(unsafe { ModuleRef::from_raw(ptr, init_ok) });
        }
        Ok(())
    }

    /// # Safety
    ///
    /// Called by the notifier chain with `nb` pointing to the `nb` field of a
    /// registered `ModuleNotifier<W>` and `data` to the `struct module` the
    /// event is about.
    unsafe extern "C" fn call(
        nb: *mut bindings::notifier_block,
        action: c_ulong,
        data: *mut c_void,
    ) -> c_int {
        let nb = Opaque::cast_from(nb);
        // SAFETY: `nb` is the `nb` field of a registered, hence alive,
        // `ModuleNotifier<W>` (caller).
        let this = unsafe { &*kernel::container_of!(nb, Self, nb) };
        let Some(ptr) = NonNull::new(data.cast::<bindings::module>()) else {
            return bindings::NOTIFY_DONE as c_int;
        };
        let Ok(action) = u32::try_from(action) else {
            return bindings::NOTIFY_DONE as c_int;
        };
        // SAFETY: the module notifier chain passes a module that is not freed
        // before the callback returns; COMING and LIVE run before the init
        // memory is freed (`do_init_module()` frees it after the LIVE chain; a
        // failed load frees it after the GOING chain).
        let m = |init_ok| unsafe { ModuleRef::from_raw(ptr, init_ok) };
        let mut events = this.events.lock();
        events.last_event = Instant::now();
        let next = match ModState::from_raw(action) {
            ModState::Coming => events.coming(m(true)),
            ModState::Live => events.live(m(true)),
            ModState::Going => {
                this.forget_build(&mut events, ptr);
                events.going(m(false));
                Next::Done
            }
            ModState::Unformed => Next::Done,
        };
        if next == Next::Build {
            this.defer_build(&mut events, ptr);
        }
        // After an allocation failure, catch up with every loaded module
        // now rather than miss it until it is unloaded.
        if events.missed() && Self::adopt(this.this, &mut events).is_err() {
            pr_warn!("cannot walk the module list: modules may be missing until the next event\n");
        }
        bindings::NOTIFY_OK as c_int
    }
}

impl<W: ModuleEvents> ModuleNotifier<W> {
    /// Queues the build an event for `ptr` asked for (the event lock is
    /// held: `events`). Without memory for the queue, builds it right here.
    fn defer_build(&self, events: &mut Events<W>, ptr: NonNull<bindings::module>) {
        if events.closing {
            return;
        }
        if events.queue.push(ptr, GFP_KERNEL).is_err() {
            // SAFETY: called from an event for `ptr`, which is not freed
            // before the event returns; no init part is read.
            let built = W::build(unsafe { ModuleRef::from_raw(ptr, false) });
            // Built under the lock, so nothing can have changed since: no follow-up.
            let _ = events.built(built);
            return;
        }
        // SAFETY: `work` is only ever queued on `worker`, and cancelled in
        // drop (once `closing` stops the queueing here) before either goes;
        // it is the `work` field of `self`, alive until then: what its
        // function, `run_builds`, requires.
        unsafe { self.worker.queue(&self.work) };
    }

    /// In the GOING event of `ptr` (the event lock is held: `events`): drops
    /// its queued build, and waits for a running one to end (it reads the
    /// module, which is freed once the event returns). The wait is
    /// uninterruptible, as long as one build (and `build_delay_ms`); the
    /// build runs at normal priority meanwhile, so that the load its low
    /// priority yields to does not keep `rmmod` waiting.
    fn forget_build(&self, events: &mut MutexGuard<'_, Events<W>>, ptr: NonNull<bindings::module>) {
        events.queue.retain(|p| *p != ptr);
        if events.building != Some(ptr) {
            return;
        }
        events.building_gone = true;
        self.urge_build();
        while events.building == Some(ptr) {
            self.build_ended.wait(events);
        }
    }

    /// Under the lock, by a task about to wait for the running build: the
    /// thread runs at nice 0 until the build ends.
    fn urge_build(&self) {
        self.build_waited.store(true, Relaxed);
        self.worker.set_priority(Priority::Normal);
    }

    /// On the thread, outside the lock: runs `f` at nice 19, unless a task
    /// waits for it, then returns to nice 0. A raise by [`Self::urge_build`]
    /// that came first is not lost: both priority changes take the thread's
    /// runqueue lock, so the flag stored before that raise is seen here.
    fn in_background<R>(&self, f: impl FnOnce() -> R) -> R {
        self.worker.set_priority(Priority::Background);
        if self.build_waited.load(Relaxed) {
            self.worker.set_priority(Priority::Normal);
        }
        let result = f();
        self.worker.set_priority(Priority::Normal);
        result
    }

    /// The work item: runs every queued build, one module at a time, once
    /// module events have been quiet for [`BUILD_AFTER_QUIET`].
    ///
    /// The thread runs at normal priority, and at
    /// [`Priority::Background`] only for the work it does outside the lock
    /// ([`Self::in_background`]): preempted at nice 19 with the lock held,
    /// it would keep the next module event waiting for as long as other tasks
    /// keep the CPU.
    ///
    /// # Safety
    ///
    /// Called by the worker with the `kthread_work` of the `work` field of a
    /// `ModuleNotifier<W>` that is alive until the call returns (drop cancels
    /// the work item and waits for it).
    unsafe extern "C" fn run_builds(work: *mut bindings::kthread_work) {
        // SAFETY: `work` is the `kthread_work` of a live `WorkItem` (caller).
        let work = core::ptr::from_ref(unsafe { WorkItem::from_raw(work) });
        // SAFETY: that `WorkItem` is the `work` field of a live
        // `ModuleNotifier<W>` (caller).
        let this = unsafe { &*kernel::container_of!(work, Self, work) };
        loop {
            let ptr = {
                let mut events = this.events.lock();
                if events.closing || events.queue.is_empty() {
                    return;
                }
                let quiet = events.last_event.elapsed();
                if quiet < BUILD_AFTER_QUIET {
                    // Woken early by drop; an event meanwhile extends the wait.
                    let left = BUILD_AFTER_QUIET - quiet;
                    let ms = u32::try_from(left.as_millis_ceil()).unwrap_or(u32::MAX);
                    let _ = this
                        .build_ended
                        .wait_interruptible_timeout(&mut events, msecs_to_jiffies(ms));
                    continue;
                }
                let Ok(ptr) = events.queue.remove(0) else {
                    return;
                };
                events.building = Some(ptr);
                events.building_gone = false;
                this.build_waited.store(false, Relaxed);
                ptr
            };
            // SAFETY: the module is in `building`, so its GOING event, which
            // precedes every free of its core memory, waits for this build to
            // end (`forget_build`); it was queued by an event for it, before
            // that GOING event (type invariant). No init part is read: init
            // memory is freed after the LIVE event, which does not wait.
            let built = this.in_background(|| W::build(unsafe { ModuleRef::from_raw(ptr, false) }));
            let mut events = this.events.lock();
            if !events.building_gone {
                if let Some(work) = events.built(built) {
                    // Still `building`: its GOING event keeps waiting for us.
                    drop(events);
                    this.in_background(|| W::follow_up(work));
                    events = this.events.lock();
                }
            }
            events.building = None;
            this.build_ended.notify_all();
            // As after an event: a failed publication is caught up with now.
            if events.missed() && Self::adopt(this.this, &mut events).is_err() {
                pr_warn!(
                    "cannot walk the module list: modules may be missing until the next event\n"
                );
            }
        }
    }
}

#[pinned_drop]
impl<W: ModuleEvents> PinnedDrop for ModuleNotifier<W> {
    fn drop(self: Pin<&mut Self>) {
        // Builds stop while the notifier is still registered: a running build
        // is safe only as long as its module's GOING event reaches us.
        {
            let mut events = self.events.lock();
            events.closing = true;
            events.queue.clear();
            // A build that runs now ends soon; a wait for quiet ends now.
            self.urge_build();
            self.build_ended.notify_all();
        }
        // SAFETY: nothing queues `work` from now on (`closing`), and `worker`
        // is destroyed after this, when the fields drop.
        unsafe { self.work.cancel_sync() };
        // SAFETY: `nb` is registered (type invariant) and still pinned;
        // unregistering waits for running callbacks.
        unsafe { bindings::unregister_module_notifier(self.nb.get()) };
    }
}
