//! Terminal helpers shared by the supervisor (a container's TTY) and `exec` (an exec's TTY).

use std::os::fd::RawFd;

/// Set a pty's window size (`TIOCSWINSZ`); a descriptor that is no terminal is left alone.
pub fn set_winsize(fd: RawFd, height: u16, width: u16) {
    let ws = libc::winsize {
        ws_row: height,
        ws_col: width,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a valid winsize; an invalid descriptor only yields an error.
    unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) };
}
