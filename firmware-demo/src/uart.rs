//! A polled driver for the Arm CMSDK APB UART (UART0 of the MPS2 boards at 0x4000_4000),
//! exposed through the `embedded-io` byte-stream traits so the bedside loop is written against
//! traits, not registers.
//!
//! Registers (CMSDK APB UART TRM): DATA at +0x00, STATE at +0x04 (bit 0 TX buffer full,
//! bit 1 RX buffer full), CTRL at +0x08 (bit 0 TX enable, bit 1 RX enable), BAUDDIV at +0x10
//! (PCLK / baud, at least 16).

use core::convert::Infallible;

/// UART0's base address on the MPS2 AN385/AN386 boards.
pub const MPS2_UART0: usize = 0x4000_4000;
/// PCLK of the MPS2 AN386 (25 MHz) over 115200 baud.
pub const MPS2_BAUDDIV_115200: u32 = 25_000_000 / 115_200;

const DATA: usize = 0x00;
const STATE: usize = 0x04;
const CTRL: usize = 0x08;
const BAUDDIV: usize = 0x10;
const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;
const CTRL_TX_ENABLE: u32 = 1 << 0;
const CTRL_RX_ENABLE: u32 = 1 << 1;

/// A CMSDK APB UART driven by polling.
#[derive(Debug)]
pub struct CmsdkUart {
    base: usize,
}

impl CmsdkUart {
    /// Configures the UART at `base` for polled transmit and receive.
    ///
    /// # Safety
    ///
    /// `base` must be the address of a CMSDK APB UART, and nothing else may drive it while the
    /// returned value lives.
    pub unsafe fn new(base: usize, bauddiv: u32) -> Self {
        let uart = CmsdkUart { base };
        uart.write_register(BAUDDIV, bauddiv.max(16));
        uart.write_register(CTRL, CTRL_TX_ENABLE | CTRL_RX_ENABLE);
        uart
    }

    fn read_register(&self, offset: usize) -> u32 {
        // SAFETY: `new`'s contract: `base` is a CMSDK UART we own; offsets are its registers.
        unsafe { core::ptr::read_volatile((self.base + offset) as *const u32) }
    }

    fn write_register(&self, offset: usize, value: u32) {
        // SAFETY: as in `read_register`.
        unsafe { core::ptr::write_volatile((self.base + offset) as *mut u32, value) }
    }

    fn try_read_byte(&self) -> Option<u8> {
        if self.read_register(STATE) & STATE_RX_FULL != 0 {
            Some(self.read_register(DATA) as u8)
        } else {
            None
        }
    }
}

impl embedded_io::ErrorType for CmsdkUart {
    type Error = Infallible;
}

impl embedded_io::Read for CmsdkUart {
    /// Blocks until at least one byte arrived, then returns what is there.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let mut n = 0;
        for slot in buf.iter_mut() {
            let byte = if n == 0 {
                loop {
                    if let Some(byte) = self.try_read_byte() {
                        break byte;
                    }
                }
            } else {
                match self.try_read_byte() {
                    Some(byte) => byte,
                    None => break,
                }
            };
            *slot = byte;
            n += 1;
        }
        Ok(n)
    }
}

impl embedded_io::Write for CmsdkUart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        for &byte in buf {
            while self.read_register(STATE) & STATE_TX_FULL != 0 {}
            self.write_register(DATA, u32::from(byte));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        while self.read_register(STATE) & STATE_TX_FULL != 0 {}
        Ok(())
    }
}
