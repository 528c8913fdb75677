// SPDX-License-Identifier: GPL-2.0

//! Host build of modsym's pure core.
//!
//! The kernel module (`src/modsym.rs`) compiles these same four files as its
//! own `index`, `parse`, `format` and `parity` modules; this crate root only exists so
//! they can be tested, property-tested, fuzzed and benchmarked on the host.
//! The files use nothing but `core`: no allocation, no `unsafe`, no panics on
//! any input.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod format;
pub mod index;
pub mod parity;
pub mod parse;
