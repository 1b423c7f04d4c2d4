//! Host files through semihosting (SYS_OPEN/READ/WRITE/CLOSE) and the QEMU command line
//! (SYS_GET_CMDLINE). Paths are relative to QEMU's working directory.

use core::ffi::CStr;
use core::fmt;

use cortex_m_semihosting::{nr, syscall};

/// A semihosting operation that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostError {
    /// SYS_OPEN refused the file.
    Open,
    /// SYS_READ failed.
    Read,
    /// The file ended before the expected number of bytes.
    UnexpectedEnd,
    /// SYS_WRITE failed or wrote less than asked.
    Write,
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HostError::Open => "cannot open the file",
            HostError::Read => "read failed",
            HostError::UnexpectedEnd => "the file ends early",
            HostError::Write => "write failed",
        })
    }
}

/// How to open a host file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// "rb": read an existing file.
    ReadBinary,
    /// "wb": create or truncate, then write.
    WriteBinary,
}

/// An open host file; closed on drop.
#[derive(Debug)]
pub struct HostFile {
    handle: usize,
}

impl HostFile {
    /// Opens `path` on the host.
    pub fn open(path: &CStr, mode: Mode) -> Result<Self, HostError> {
        let mode = match mode {
            Mode::ReadBinary => nr::open::R_BINARY,
            Mode::WriteBinary => nr::open::W_TRUNC_BINARY,
        };
        let bytes = path.to_bytes();
        // SAFETY: SYS_OPEN reads `len` bytes of the NUL-terminated name, which `path` holds
        // for the duration of the call; it writes no guest memory.
        let handle = unsafe { syscall!(OPEN, bytes.as_ptr(), mode, bytes.len()) };
        if handle as isize == -1 {
            return Err(HostError::Open);
        }
        Ok(HostFile { handle })
    }

    /// Fills `buf` completely from the file.
    pub fn read_exact(&mut self, mut buf: &mut [u8]) -> Result<(), HostError> {
        while !buf.is_empty() {
            // SAFETY: SYS_READ writes at most `buf.len()` bytes into `buf`, which we borrow
            // mutably for the call.
            let not_read = unsafe { syscall!(READ, self.handle, buf.as_mut_ptr(), buf.len()) };
            if not_read as isize == -1 || not_read > buf.len() {
                return Err(HostError::Read);
            }
            let read = buf.len() - not_read;
            if read == 0 {
                return Err(HostError::UnexpectedEnd);
            }
            buf = &mut buf[read..];
        }
        Ok(())
    }

    /// Writes all of `bytes` to the file.
    pub fn write_all(&mut self, mut bytes: &[u8]) -> Result<(), HostError> {
        while !bytes.is_empty() {
            // SAFETY: SYS_WRITE reads `bytes.len()` bytes from `bytes`, borrowed for the call.
            let not_written = unsafe { syscall!(WRITE, self.handle, bytes.as_ptr(), bytes.len()) };
            if not_written >= bytes.len() {
                return Err(HostError::Write);
            }
            bytes = &bytes[bytes.len() - not_written..];
        }
        Ok(())
    }
}

impl Drop for HostFile {
    fn drop(&mut self) {
        // SAFETY: SYS_CLOSE takes the handle by value and touches no guest memory.
        unsafe { syscall!(CLOSE, self.handle) };
    }
}

/// The command line QEMU passes to the program (its `-append` text), or `None` if there is
/// none or it does not fit `buf`.
pub fn command_line(buf: &mut [u8]) -> Option<&str> {
    let mut block = [buf.as_mut_ptr() as usize, buf.len()];
    // SAFETY: SYS_GET_CMDLINE writes at most block[1] bytes (NUL included) at block[0], which
    // is `buf`, borrowed mutably for the call, and updates `block` through the pointer we pass
    // (the trap is not declared `nomem`, so the compiler expects both writes).
    let status =
        unsafe { cortex_m_semihosting::syscall1(nr::GET_CMDLINE, block.as_mut_ptr() as usize) };
    if status != 0 {
        return None;
    }
    let len = block[1].min(buf.len());
    let text = buf.get(..len)?;
    let text = text.split(|&b| b == 0).next().unwrap_or(&[]);
    core::str::from_utf8(text).ok()
}
