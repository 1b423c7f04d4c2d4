//! The Cortex-M devices Lockstep's firmware runs on, in QEMU: one row per target with its Rust
//! triple, its QEMU board and CPU, and its memory layout (code flash, the model region QEMU's
//! loader fills, RAM).
//!
//! This table is the only place these facts are written. firmware-demo's build script picks
//! the row for the triple it builds and generates `memory.x` from it ([`Target::memory_x`]);
//! the host's `lockstep parity` starts QEMU and places the model blob from it; host tests
//! check the files that cannot be generated (firmware-demo/.cargo/config.toml's runners, the
//! bedside demo script, the firmware README's table) against it.

use core::fmt;

/// One device the firmware is built for and run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// Name used on the command line (`lockstep parity -t NAME`).
    pub name: &'static str,
    /// Rust target triple of its firmware.
    pub triple: &'static str,
    /// QEMU `-machine` name; the firmware sees it as `cfg(lockstep_board = "...")`.
    pub board: &'static str,
    /// QEMU `-cpu`, when the board's default is not the one wanted.
    pub qemu_cpu: Option<&'static str>,
    /// First address of the firmware's flash (code and read-only data).
    pub flash_origin: u32,
    /// Bytes of flash for the firmware.
    pub flash_bytes: u32,
    /// Address QEMU's loader writes the model blob to (the firmware's model region).
    pub model_region: u32,
    /// Bytes of the model region (length prefix included).
    pub model_region_bytes: u32,
    /// First address of RAM.
    pub ram_origin: u32,
    /// Bytes of RAM.
    pub ram_bytes: u32,
}

const KIB: u32 = 1024;
const MIB: u32 = 1024 * 1024;

/// Every supported target.
pub const TARGETS: [Target; 3] = [
    // BBC micro:bit (nRF51822): 256 KiB flash at 0, 16 KiB RAM at 0x2000_0000. Firmware in the
    // low 80 KiB of flash (about 45 KB unsigned, 73.5 KB with the seal verifier); the model
    // region is the high 176 KiB. A 300-tree, depth-6 XGBoost model on the bundled cohort
    // compiles to about 179 KB and fits, sealed too (88 bytes more). QEMU 7.2 crashes when
    // a loader blob runs past the flash, so the host refuses blobs larger than the region.
    Target {
        name: "cortex-m0",
        triple: "thumbv6m-none-eabi",
        board: "microbit",
        qemu_cpu: None,
        flash_origin: 0x0000_0000,
        flash_bytes: 80 * KIB,
        model_region: 0x0001_4000,
        model_region_bytes: 176 * KIB,
        ram_origin: 0x2000_0000,
        ram_bytes: 16 * KIB,
    },
    // Arm MPS2 AN386: 4 MiB ZBT SSRAM1 at 0 serves as flash (firmware in the first MiB, the
    // model region the remaining 3 MiB), 4 MiB SSRAM2/3 at 0x2000_0000 as RAM.
    Target {
        name: "cortex-m4f",
        triple: "thumbv7em-none-eabihf",
        board: "mps2-an386",
        qemu_cpu: Some("cortex-m4"),
        flash_origin: 0x0000_0000,
        flash_bytes: MIB,
        model_region: 0x0010_0000,
        model_region_bytes: 3 * MIB,
        ram_origin: 0x2000_0000,
        ram_bytes: 4 * MIB,
    },
    // Arm MPS2 AN505 (IoT Kit). The core boots in the Secure state with its vector table at
    // 0x1000_0000, so everything uses the Secure aliases (address bit 28 set): 4 MiB ZBT SSRAM1
    // at 0x1000_0000 serves as flash (firmware in the first MiB, the model region the remaining
    // 3 MiB), SSRAM2 and SSRAM3 (2 MiB each, contiguous) at 0x3800_0000 as RAM.
    Target {
        name: "cortex-m33",
        triple: "thumbv8m.main-none-eabihf",
        board: "mps2-an505",
        qemu_cpu: Some("cortex-m33"),
        flash_origin: 0x1000_0000,
        flash_bytes: MIB,
        model_region: 0x1010_0000,
        model_region_bytes: 3 * MIB,
        ram_origin: 0x3800_0000,
        ram_bytes: 4 * MIB,
    },
];

/// The target called `name`.
pub fn by_name(name: &str) -> Option<Target> {
    TARGETS.iter().copied().find(|t| t.name == name)
}

/// The target whose firmware is built for `triple`.
pub fn by_triple(triple: &str) -> Option<Target> {
    TARGETS.iter().copied().find(|t| t.triple == triple)
}

/// QEMU's options shared by every way of starting the firmware: a console without a display,
/// and semihosting to the host's files and stdout.
pub const QEMU_COMMON_ARGS: [&str; 3] = [
    "-nographic",
    "-semihosting-config",
    "enable=on,target=native",
];

impl Target {
    /// QEMU's arguments that select the board: `-cpu CPU` (if any), then `-machine BOARD`.
    pub fn qemu_machine_args(&self) -> impl Iterator<Item = &'static str> {
        let cpu = self.qemu_cpu.map(|cpu| ["-cpu", cpu]);
        cpu.into_iter().flatten().chain(["-machine", self.board])
    }

    /// The linker script with this target's MEMORY regions (cortex-m-rt's `memory.x`).
    pub fn memory_x(&self) -> MemoryX {
        MemoryX(*self)
    }

    /// The runner `cargo run` uses (firmware-demo/.cargo/config.toml, `-kernel` last so cargo
    /// can append the ELF).
    pub fn cargo_runner(&self) -> CargoRunner {
        CargoRunner(*self)
    }
}

/// [`Target::memory_x`]: displays as the linker script.
#[derive(Debug, Clone, Copy)]
pub struct MemoryX(Target);

impl fmt::Display for MemoryX {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.0;
        writeln!(
            f,
            "/* {} (QEMU -machine {}): generated by firmware-demo/build.rs from lockstep-protocol's",
            t.name, t.board
        )?;
        writeln!(
            f,
            "   target table (protocol/src/targets.rs); edit the table, not this file. */"
        )?;
        writeln!(f, "MEMORY\n{{")?;
        let regions = [
            ("FLASH", t.flash_origin, t.flash_bytes),
            ("MODEL", t.model_region, t.model_region_bytes),
            ("RAM  ", t.ram_origin, t.ram_bytes),
        ];
        for (name, origin, bytes) in regions {
            writeln!(
                f,
                "  {name} : ORIGIN = 0x{origin:08x}, LENGTH = {}",
                LinkerSize(bytes)
            )?;
        }
        writeln!(f, "}}\n\nINCLUDE model-region.x")
    }
}

/// A size as a linker script writes it: `3M`, `192K`, or plain bytes.
struct LinkerSize(u32);

impl fmt::Display for LinkerSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => write!(f, "0"),
            n if n % MIB == 0 => write!(f, "{}M", n / MIB),
            n if n % KIB == 0 => write!(f, "{}K", n / KIB),
            n => write!(f, "{n}"),
        }
    }
}

/// [`Target::cargo_runner`]: displays as the runner command line.
#[derive(Debug, Clone, Copy)]
pub struct CargoRunner(Target);

impl fmt::Display for CargoRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("qemu-system-arm")?;
        for arg in self.0.qemu_machine_args().chain(QEMU_COMMON_ARGS) {
            write!(f, " {arg}")?;
        }
        f.write_str(" -kernel")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cortex_m0_memory_x_has_these_exact_lines() {
        let text = by_name("cortex-m0").unwrap().memory_x().to_string();
        let body: Vec<&str> = text.lines().skip(2).collect();
        assert_eq!(
            body,
            [
                "MEMORY",
                "{",
                "  FLASH : ORIGIN = 0x00000000, LENGTH = 80K",
                "  MODEL : ORIGIN = 0x00014000, LENGTH = 176K",
                "  RAM   : ORIGIN = 0x20000000, LENGTH = 16K",
                "}",
                "",
                "INCLUDE model-region.x",
            ]
        );
        assert!(text.starts_with("/* cortex-m0 (QEMU -machine microbit)"));
    }

    #[test]
    fn the_other_layouts_are_as_before() {
        let lines = |name| {
            by_name(name)
                .unwrap()
                .memory_x()
                .to_string()
                .lines()
                .skip(4)
                .take(3)
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            lines("cortex-m4f"),
            [
                "  FLASH : ORIGIN = 0x00000000, LENGTH = 1M",
                "  MODEL : ORIGIN = 0x00100000, LENGTH = 3M",
                "  RAM   : ORIGIN = 0x20000000, LENGTH = 4M",
            ]
        );
        assert_eq!(
            lines("cortex-m33"),
            [
                "  FLASH : ORIGIN = 0x10000000, LENGTH = 1M",
                "  MODEL : ORIGIN = 0x10100000, LENGTH = 3M",
                "  RAM   : ORIGIN = 0x38000000, LENGTH = 4M",
            ]
        );
    }

    #[test]
    fn model_region_follows_flash_and_stays_out_of_ram() {
        for t in TARGETS {
            assert_eq!(t.flash_origin + t.flash_bytes, t.model_region, "{}", t.name);
            assert_eq!(t.model_region % 4, 0, "{}", t.name);
            let model_end = u64::from(t.model_region) + u64::from(t.model_region_bytes);
            assert!(
                model_end <= u64::from(t.ram_origin),
                "{}: the model region runs into RAM",
                t.name
            );
        }
    }

    #[test]
    fn names_triples_and_boards_are_unique_and_found() {
        for t in TARGETS {
            assert_eq!(by_name(t.name), Some(t));
            assert_eq!(by_triple(t.triple), Some(t));
            assert_eq!(TARGETS.iter().filter(|u| u.board == t.board).count(), 1);
        }
        assert_eq!(by_name("cortex-m7"), None);
    }

    #[test]
    fn runner_selects_cpu_and_board() {
        assert_eq!(
            by_name("cortex-m4f").unwrap().cargo_runner().to_string(),
            "qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic \
             -semihosting-config enable=on,target=native -kernel"
        );
        assert_eq!(
            by_name("cortex-m0")
                .unwrap()
                .qemu_machine_args()
                .collect::<Vec<_>>(),
            ["-machine", "microbit"]
        );
    }
}
