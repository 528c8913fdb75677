// SPDX-License-Identifier: GPL-2.0

//! The bridge from debugfs and `seq_file` to [`LineFile`]: files with
//! per-open state, one line per item, streamed, and an optional write.
//!
//! The `kernel` crate's debugfs (7.3) has neither per-open state nor
//! `seq_file` iteration, and its `SeqFile` prints only through `%pA`, which
//! cannot emit raw bytes (symbol names need not be UTF-8): this file is that
//! missing piece, kept to the `file_operations` glue.

#![allow(unsafe_code)]

use core::{fmt, marker::PhantomData, ptr};

use kernel::{
    bindings,
    ffi::{c_char, c_int, c_void},
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
    uaccess::UserSlice,
};

use crate::sized_gfp;

/// One output line, filled by [`LineFile::item`].
///
/// Grows as needed, so pushing may sleep: never under RCU or a spinlock. If
/// it cannot grow (no memory), the read fails with `ENOMEM` before the line:
/// `seq_read()` never prints half a line, and never skips one.
pub(crate) struct Text {
    bytes: KVec<u8>,
    cut: bool,
}

impl Text {
    const fn new() -> Self {
        Self {
            bytes: KVec::new(),
            cut: false,
        }
    }

    /// Appends `bytes`.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Result {
        let pushed = self.bytes.extend_from_slice(bytes, GFP_KERNEL);
        self.cut |= pushed.is_err();
        Ok(pushed?)
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.cut = false;
    }
}

impl fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes()).map_err(|_| fmt::Error)
    }
}

/// Shared data of debugfs files: says who may open them, and what they see.
pub(crate) trait FileData: Send + Sync + 'static {
    /// What an open file may show, decided at open with the opener's
    /// credentials (like `/proc/kallsyms`) and passed to every item.
    type View: Copy + Send + Unpin + 'static;
    /// Checked before every open.
    fn may_open(&self) -> Result<Self::View>;
}

/// A debugfs file whose output is a sequence of lines (items), with state
/// per open file.
///
/// Callbacks of one open file never run concurrently: each takes the open
/// file's own lock.
#[vtable]
///
/// The per-open state starts as [`Default::default`].
pub(crate) trait LineFile: Default + Send + Unpin + 'static {
    /// Shared data, passed to every callback.
    type Data: FileData;
    /// Largest accepted write in bytes (`-E2BIG` beyond).
    const MAX_WRITE: usize = 0;
    /// Whether an accepted write replaces what there is to read, so that the
    /// next read on the open file starts over at the first line (else it goes
    /// on where the last one stopped).
    const RESTART_ON_WRITE: bool = false;
    /// Writes item `pos` into `out` (empty on entry); `false` past the end.
    ///
    /// An error fails the `read()` that asked for the item, or ends it
    /// before the item if it already returns earlier lines (the next
    /// `read()` asks again): no line is skipped. (An `lseek()` or `pread()`
    /// past the item fails whole.) A failed push to `out` fails it with
    /// `ENOMEM`, whatever the item returns.
    fn item(
        &mut self,
        data: &Self::Data,
        view: <Self::Data as FileData>::View,
        pos: usize,
        out: &mut Text,
    ) -> Result<bool>;
    /// Handles one `write()` of `input` (at most [`Self::MAX_WRITE`] bytes).
    fn write(&mut self, _data: &Self::Data, _input: &[u8]) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// The state of one open file, guarded by its own lock.
struct Open<F: LineFile> {
    file: F,
    view: <F::Data as FileData>::View,
    /// The line of the item the last `start`/`next` prepared for `show`.
    line: Text,
}

/// What `seq_file::private` points to.
#[pin_data]
struct OpenFile<F: LineFile> {
    data: *const F::Data,
    #[pin]
    open: Mutex<Open<F>>,
}

/// The `seq_operations`/`file_operations` of a [`LineFile`].
struct Ops<F: LineFile>(PhantomData<F>);

impl<F: LineFile> Ops<F> {
    const SEQ: bindings::seq_operations = bindings::seq_operations {
        start: Some(Self::start),
        stop: Some(Self::stop),
        next: Some(Self::next),
        show: Some(Self::show),
    };

    const FOPS: bindings::file_operations = bindings::file_operations {
        owner: kernel::module::this_module::<crate::Modsym>().as_ptr(),
        open: Some(Self::open),
        read: Some(bindings::seq_read),
        write: if F::HAS_WRITE {
            Some(Self::write)
        } else {
            None
        },
        llseek: Some(bindings::seq_lseek),
        release: Some(Self::release),
        // SAFETY: All-zero is a valid `file_operations` (no callbacks).
        ..unsafe { core::mem::zeroed() }
    };

    /// Token for item `pos`: never an `ERR_PTR`; NULL (the end) from
    /// `u32::MAX` on.
    fn token(pos: usize) -> *mut c_void {
        match pos.checked_add(1) {
            Some(t) if t <= u32::MAX as usize => ptr::without_provenance_mut(t),
            _ => ptr::null_mut(),
        }
    }

    /// # Safety
    ///
    /// `m` is a `seq_file` opened by [`Self::open`] and not yet released.
    unsafe fn open_file<'a>(m: *mut bindings::seq_file) -> Option<Pin<&'a OpenFile<F>>> {
        // SAFETY: `private` was set by `open()` to a leaked, pinned
        // `KBox<OpenFile<F>>` that lives until `release()` (caller).
        let f = unsafe { (*m).private.cast::<OpenFile<F>>().as_ref()? };
        // SAFETY: The box is pinned and never moved out of.
        Some(unsafe { Pin::new_unchecked(f) })
    }

    /// Runs `f` on the open file's state and the file's data.
    ///
    /// # Safety
    ///
    /// As [`Self::open_file`].
    unsafe fn with<R>(
        m: *mut bindings::seq_file,
        f: impl FnOnce(&F::Data, &mut Open<F>) -> R,
    ) -> Option<R> {
        // SAFETY: Forwarded from the caller.
        let file = unsafe { Self::open_file(m)? };
        // SAFETY: `data` is the debugfs file's data; the directory holds it
        // alive (see `DebugfsDir`) and debugfs' proxy fops keep the file from
        // being removed while a callback runs.
        let data = unsafe { &*file.data };
        let mut open = file.open.lock();
        Some(f(data, &mut open))
    }

    /// # Safety
    ///
    /// `open` callback of a debugfs file created by [`DebugfsDir::file`] for `F`.
    unsafe extern "C" fn open(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: `inode` is the debugfs inode; `i_private` is the `F::Data`
        // passed to `debugfs_create_file_full()`.
        let data = unsafe { (*inode).i_private.cast_const().cast::<F::Data>() };
        if data.is_null() {
            return ENODEV.to_errno();
        }
        // SAFETY: `data` is valid as long as the file exists (see above).
        let view = match unsafe { &*data }.may_open() {
            Ok(view) => view,
            Err(e) => return e.to_errno(),
        };
        let init = pin_init!(OpenFile {
            data,
            open <- new_mutex!(Open {
                file: F::default(),
                view,
                line: Text::new(),
            }),
        });
        let boxed = match KBox::pin_init(init, GFP_KERNEL) {
            Ok(b) => b,
            Err(e) => return e.to_errno(),
        };
        // SAFETY: `file` is being opened; `SEQ` is a static table.
        let ret = unsafe { bindings::seq_open(file, &Self::SEQ) };
        if ret != 0 {
            return ret;
        }
        // SAFETY: `seq_open()` succeeded, so `private_data` is our `seq_file`.
        let m = unsafe { (*file).private_data.cast::<bindings::seq_file>() };
        // SAFETY: The box stays pinned: it is only turned back into a
        // `Pin<KBox>` in `release()`.
        let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(boxed) });
        // SAFETY: `m` is valid and not yet visible to any other callback.
        unsafe { (*m).private = raw.cast::<c_void>() };
        0
    }

    /// # Safety
    ///
    /// `release` callback of a file opened by [`Self::open`].
    unsafe extern "C" fn release(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: `file` was opened by `open()`, so `private_data` is our `seq_file`.
        let m = unsafe { (*file).private_data.cast::<bindings::seq_file>() };
        if !m.is_null() {
            // SAFETY: `m` is valid until `seq_release()` below.
            let p = unsafe { (*m).private.cast::<OpenFile<F>>() };
            if !p.is_null() {
                // SAFETY: `p` came from `KBox::into_raw()` in `open()`; this is
                // the last callback of the file, so nobody else uses it.
                drop(unsafe { KBox::from_raw(p) });
            }
        }
        // SAFETY: Releasing a file opened with `seq_open()`.
        unsafe { bindings::seq_release(inode, file) }
    }

    /// # Safety
    ///
    /// `seq_operations::start` of a file opened by [`Self::open`]: `m` is its
    /// `seq_file`, `pos` is valid.
    unsafe extern "C" fn start(
        m: *mut bindings::seq_file,
        pos: *mut bindings::loff_t,
    ) -> *mut c_void {
        // SAFETY: `pos` is valid (seq_file contract).
        let Ok(p) = usize::try_from(unsafe { *pos }) else {
            return ptr::null_mut();
        };
        // SAFETY: Called by `seq_read()` on an open file.
        let found = unsafe {
            Self::with(m, |data, open| {
                open.line.clear();
                let found = open.file.item(data, open.view, p, &mut open.line);
                if open.line.cut {
                    open.line.clear();
                    return Err(ENOMEM);
                }
                found
            })
        };
        match found {
            Some(Ok(true)) => Self::token(p),
            Some(Ok(false)) | None => ptr::null_mut(),
            // `seq_read()` returns the error, or the lines before this one.
            Some(Err(e)) => e.to_ptr(),
        }
    }

    /// # Safety
    ///
    /// Same as [`Self::start`].
    unsafe extern "C" fn next(
        m: *mut bindings::seq_file,
        _v: *mut c_void,
        pos: *mut bindings::loff_t,
    ) -> *mut c_void {
        // SAFETY: `pos` is valid (seq_file contract).
        unsafe { *pos = (*pos).saturating_add(1) };
        // SAFETY: Same contract as `start`.
        unsafe { Self::start(m, pos) }
    }

    /// # Safety
    ///
    /// Same as [`Self::start`] (does nothing).
    unsafe extern "C" fn stop(_m: *mut bindings::seq_file, _v: *mut c_void) {}

    /// # Safety
    ///
    /// `seq_operations::show` of a file opened by [`Self::open`].
    unsafe extern "C" fn show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
        // SAFETY: Called by `seq_read()` on an open file.
        unsafe {
            Self::with(m, |_, open| {
                let bytes = &open.line.bytes;
                // SAFETY: `m` is the `seq_file` of the running show callback
                // and `bytes` is valid; on overflow `seq_read()` starts over
                // at this item (`start`) with a larger buffer.
                bindings::seq_write(m, bytes.as_ptr().cast(), bytes.len())
            })
        };
        0
    }

    /// # Safety
    ///
    /// `write` callback of a file opened by [`Self::open`]; `buf` is a user
    /// pointer to `count` bytes.
    unsafe extern "C" fn write(
        file: *mut bindings::file,
        buf: *const c_char,
        count: usize,
        ppos: *mut bindings::loff_t,
    ) -> isize {
        if count == 0 {
            // Nothing to parse: a zero-length write changes nothing, as on
            // any file.
            return 0;
        }
        if count > F::MAX_WRITE {
            return E2BIG.to_errno() as isize;
        }
        let mut input = KVVec::new();
        let user = UserSlice::new(UserPtr::from_ptr(buf.cast_mut().cast::<c_void>()), count);
        if let Err(e) = user.read_all(&mut input, sized_gfp()) {
            return e.to_errno() as isize;
        }
        // SAFETY: `file` was opened by `open()`, so `private_data` is our `seq_file`.
        let m = unsafe { (*file).private_data.cast::<bindings::seq_file>() };
        // SAFETY: The file is open.
        let ret = unsafe { Self::with(m, |data, open| open.file.write(data, &input)) };
        match ret {
            Some(Ok(())) => {
                if F::RESTART_ON_WRITE && !ppos.is_null() {
                    // SAFETY: `ppos`, not null, is the position the VFS
                    // passes to `write`. At 0, the next `seq_read()` starts
                    // over from the first line.
                    unsafe { *ppos = 0 };
                }
                isize::try_from(count).unwrap_or(isize::MAX)
            }
            Some(Err(e)) => e.to_errno() as isize,
            None => ENODEV.to_errno() as isize,
        }
    }
}

/// A debugfs directory; removed (with its files) on drop.
///
/// Holds a reference to the data its files point to, so the data outlives
/// the files. Files pin the module while open (`.owner`), so the directory is
/// never dropped at module exit with a file open.
pub(crate) struct DebugfsDir<D: FileData> {
    dentry: *mut bindings::dentry,
    data: Arc<D>,
}

// SAFETY: The dentry pointer is only used to remove the directory, which may
// happen on any thread; `Arc<D>` is `Send + Sync` for `D: Send + Sync`.
unsafe impl<D: FileData> Send for DebugfsDir<D> {}
// SAFETY: See `Send`; `&DebugfsDir` only allows creating files.
unsafe impl<D: FileData> Sync for DebugfsDir<D> {}

impl<D: FileData> DebugfsDir<D> {
    /// Creates `/sys/kernel/debug/<name>/`, whose files will use `data`.
    pub(crate) fn new(name: &CStr, data: Arc<D>) -> Result<Self> {
        // SAFETY: `name` is NUL-terminated; NULL parent means the debugfs root.
        let dentry = unsafe { bindings::debugfs_create_dir(name.as_char_ptr(), ptr::null_mut()) };
        if dentry.is_null() || kernel::error::from_err_ptr(dentry).is_err() {
            return Err(ENODEV);
        }
        Ok(Self { dentry, data })
    }

    /// Creates file `name` with permissions `mode`, served by `F`.
    pub(crate) fn file<F: LineFile<Data = D>>(&self, name: &CStr, mode: u16) -> Result {
        let data = Arc::as_ptr(&self.data).cast_mut().cast::<c_void>();
        // SAFETY: `name` is NUL-terminated, `self.dentry` is our directory,
        // `data` outlives the file (the directory holds the `Arc` and removes
        // its files on drop), `FOPS` is a static table.
        let d = unsafe {
            bindings::debugfs_create_file_full(
                name.as_char_ptr(),
                mode,
                self.dentry,
                data,
                ptr::null(),
                &Ops::<F>::FOPS,
            )
        };
        if d.is_null() || kernel::error::from_err_ptr(d).is_err() {
            return Err(ENODEV);
        }
        Ok(())
    }
}

impl<D: FileData> Drop for DebugfsDir<D> {
    fn drop(&mut self) {
        // SAFETY: `dentry` is our directory; removal is recursive and waits
        // for running file operations to finish.
        unsafe { bindings::debugfs_remove(self.dentry) };
    }
}
