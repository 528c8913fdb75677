// SPDX-License-Identifier: GPL-2.0

//! Kernel functions the `kernel` crate does not wrap (7.3): `capable()`,
//! `cond_resched()`, `sprint_symbol()`, and the `kptr_restrict` policy as
//! `%pK` applies it.

#![allow(unsafe_code)]

use kernel::{
    bindings,
    ffi::{c_int, c_ulong, c_void},
    prelude::*,
};

/// `KSYM_NAME_LEN`: a symbol name the kernel can print has fewer bytes.
pub(crate) const KSYM_NAME_LEN: usize = bindings::KSYM_NAME_LEN as usize;

/// Size of the buffer [`sprint_symbol`] writes to; larger than the kernel's
/// `KSYM_SYMBOL_LEN` (666 bytes on 64-bit).
pub(crate) const SYMBOL_BUF_LEN: usize = 1024;

/// `capable(CAP_SYSLOG)`: may the current task see kernel addresses?
pub(crate) fn capable_syslog() -> bool {
    // SAFETY: FFI call without preconditions.
    unsafe { bindings::capable(bindings::CAP_SYSLOG as c_int) }
}

/// Whether `%pK` hides kernel addresses from the current task.
///
/// That is the `kptr_restrict` policy (0: shown to `CAP_SYSLOG`; 1: also only
/// with unchanged credentials; 2: never), which `/proc/kallsyms` applies
/// through `kallsyms_show_value()`; neither the sysctl nor that function is
/// exported, so `%pK` is asked directly: it prints zeros when it hides.
pub(crate) fn addresses_hidden() -> bool {
    static PROBE: u8 = 0;
    let mut buf = [0u8; 32];
    // SAFETY: `buf` is valid for `buf.len()` bytes; `%pK` takes one pointer
    // argument, which is only printed, never dereferenced.
    let n = unsafe {
        bindings::snprintf(
            buf.as_mut_ptr().cast(),
            buf.len(),
            c"%pK".as_char_ptr(),
            (&raw const PROBE).cast::<c_void>(),
        )
    };
    let n = usize::try_from(n).unwrap_or(0).min(buf.len() - 1);
    buf.get(..n).unwrap_or(&[]).iter().all(|&b| b == b'0')
}

/// `cond_resched()`: lets other tasks run during a long loop in process context.
pub(crate) fn cond_resched() {
    #[cfg(any(not(CONFIG_PREEMPTION), CONFIG_PREEMPT_DYNAMIC))]
    // SAFETY: FFI call without preconditions; we are in process context.
    unsafe {
        bindings::__cond_resched();
    }
}

/// Whether the current task has a signal pending (a fatal one included):
/// long reads check it and end with `ERESTARTSYS`, which the kernel turns
/// into `EINTR` for a handler that does not restart system calls, and into
/// the read starting over after a stop (`SIGTSTP`, then `SIGCONT`) or a
/// handler that does (`SA_RESTART`).
pub(crate) fn signal_pending() -> bool {
    kernel::current!().signal_pending()
}

/// The kernel's own answer for `addr`: `sprint_symbol()` into `buf`.
///
/// Returns the bytes written (`name+0xoff/0xsize [mod]` or `0x<addr>`).
/// Never call it for an address whose symbol has a name of [`KSYM_NAME_LEN`]
/// bytes or more: the kernel then writes before `buf` (see `verify.rs`).
pub(crate) fn sprint_symbol(addr: u64, buf: &mut [u8; SYMBOL_BUF_LEN]) -> &[u8] {
    let Ok(a) = c_ulong::try_from(addr) else {
        return &[];
    };
    // SAFETY: `buf` is larger than `KSYM_SYMBOL_LEN`, the most `sprint_symbol()` writes.
    let n = unsafe { bindings::sprint_symbol(buf.as_mut_ptr().cast(), a) };
    let n = usize::try_from(n).unwrap_or(0).min(buf.len());
    buf.get(..n).unwrap_or(&[])
}
