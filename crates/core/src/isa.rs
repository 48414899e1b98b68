//! The instruction-set paths the kernels run on: one place that detects the
//! CPU, for every crate.
//!
//! A path is a set of instruction-set extensions a kernel may use: portable
//! code ([`Isa::Scalar`], always there), AVX2 + FMA, AVX-512F (+ AVX2, FMA),
//! AVX512-BF16 (+ AVX-512F, BW, VL), and AMX (AMX-TILE and AMX-BF16, with the
//! operating system's permission, + AVX512-BF16). Each path includes every
//! path below it: its detection requires theirs, so a kernel that has no
//! variant for a path runs its best variant below it ([`Isa::best_of`]): the
//! f32 kernels, which have no bf16 variant, run their AVX-512 variant on the
//! `avx512bf16` and `amx` paths.
//!
//! * [`Isa::available`]: what this CPU can run, best first, detected once.
//! * [`Isa::process_default`]: the path the kernels use unless told
//!   otherwise: the best one, or the one the environment variable
//!   `MMCLUST_ISA` (`scalar`, `avx2`, `avx512`, `avx512bf16`, `amx`) names,
//!   read once. Asking for a path this CPU lacks, or for an unknown one, is
//!   an error ([`CoreError::Isa`]) that names the paths this CPU has; the fit
//!   entry points report it before any kernel runs.
//! * Kernel entry points have a twin `*_with(isa, ...)` that runs one given
//!   path: tests call every path that way (and never set the variable: the
//!   process default is read once, and tests run in parallel), skipping
//!   with [`Isa::run_or_skip`] the paths this CPU lacks.
//!
//! Adding a path means one variant of [`Isa`] and one row of `PATHS` below,
//! plus the kernel file that uses it.
//!
//! # AMX and the operating system
//!
//! The AMX tile data (8 KiB of register state) is off by default on Linux: a
//! process must ask for it once with `arch_prctl(ARCH_REQ_XCOMP_PERM,
//! XFEATURE_XTILEDATA)` before any thread executes a tile instruction
//! (otherwise the first one dies of SIGILL). The request is process-wide,
//! covers threads started before and after it, and is made here, inside the
//! one-time detection: every kernel entry point checks its path with
//! [`Isa::available`] first, so the permission is in place before any worker
//! of a thread pool runs a tile kernel. Where the kernel refuses (EPERM: a
//! seccomp or policy refusal; ENOSPC: an alternate signal stack too small
//! for the enlarged signal frame, as some Python processes install; EINVAL:
//! a kernel older than 5.16 or without AMX support), the `amx` path is
//! simply not available and the best path is `avx512bf16`. Other operating
//! systems: no `amx` path (not requested, not tested).
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use crate::error::CoreError;

/// The environment variable that sets the process default path.
pub const ENV_VAR: &str = "MMCLUST_ISA";

/// An instruction-set path. Every variant exists on every target (so its
/// name parses everywhere); on other architectures than x86-64 only
/// [`Isa::Scalar`] is ever available. Ordered from the least to the most
/// capable: a path includes every path below it. Non-exhaustive: paths
/// will be added (match with [`Isa::best_of`] and a wildcard arm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Isa {
    /// Portable code, compiled for the baseline target (SSE2 on x86-64,
    /// NEON on aarch64).
    Scalar,
    /// AVX2 + FMA.
    Avx2,
    /// AVX-512F (+ AVX2, FMA).
    Avx512,
    /// AVX512-BF16 with AVX-512F, BW and VL (+ AVX2, FMA): `vdpbf16ps`, the
    /// bf16 dot products with f32 accumulation.
    Avx512Bf16,
    /// AMX-TILE and AMX-BF16 (`tdpbf16ps`, the bf16 matrix unit), the tile
    /// data enabled by the OS (XCR0) and granted to this process (Linux
    /// `arch_prctl`), + AVX512-BF16.
    Amx,
}

/// One row of the path table.
struct PathInfo {
    isa: Isa,
    name: &'static str,
    /// Whether this CPU runs the path (every extension the path's kernels
    /// enable, including those of the paths below it).
    detect: fn() -> bool,
}

/// Every path, in the order of [`Isa`]'s variants (least capable first):
/// `PATHS[isa as usize].isa == isa` (tested).
const PATHS: &[PathInfo] = &[
    PathInfo {
        isa: Isa::Scalar,
        name: "scalar",
        detect: || true,
    },
    PathInfo {
        isa: Isa::Avx2,
        name: "avx2",
        detect: has_avx2_fma,
    },
    PathInfo {
        isa: Isa::Avx512,
        name: "avx512",
        detect: has_avx512,
    },
    PathInfo {
        isa: Isa::Avx512Bf16,
        name: "avx512bf16",
        detect: has_avx512bf16,
    },
    PathInfo {
        isa: Isa::Amx,
        name: "amx",
        detect: has_amx,
    },
];

#[cfg(target_arch = "x86_64")]
fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    has_avx2_fma() && std::arch::is_x86_feature_detected!("avx512f")
}

#[cfg(target_arch = "x86_64")]
fn has_avx512bf16() -> bool {
    has_avx512()
        && std::arch::is_x86_feature_detected!("avx512bf16")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vl")
}

/// AVX512-BF16, AMX-TILE and AMX-BF16 in CPUID, the tile state enabled by
/// the OS in XCR0, and this process granted the tile data (Linux; see the
/// module documentation).
#[cfg(target_arch = "x86_64")]
fn has_amx() -> bool {
    amx_permission().is_some_and(|granted| granted.is_ok())
}

/// `None` when the CPU (or the OS's XCR0) has no AMX; otherwise the outcome
/// of the permission request, made once: it is a system call with a
/// process-wide effect.
#[cfg(target_arch = "x86_64")]
fn amx_permission() -> Option<Result<(), TileRefusal>> {
    static AMX: OnceLock<Option<Result<(), TileRefusal>>> = OnceLock::new();
    *AMX.get_or_init(|| (has_avx512bf16() && amx_in_cpuid_and_xcr0()).then(request_tile_data))
}

#[cfg(not(target_arch = "x86_64"))]
fn amx_permission() -> Option<Result<(), TileRefusal>> {
    None
}

/// CPUID.(EAX=7, ECX=0):EDX bits 22 (AMX-BF16) and 24 (AMX-TILE); and
/// XCR0 bits 17 (XTILECFG) and 18 (XTILEDATA), read with XGETBV where
/// CPUID.1:ECX bit 27 (OSXSAVE) says the OS enabled it.
#[cfg(target_arch = "x86_64")]
fn amx_in_cpuid_and_xcr0() -> bool {
    use std::arch::x86_64::__cpuid_count;
    // CPUID is an unprivileged instruction every x86-64 CPU has; leaf 7 is
    // asked only where the maximum leaf (leaf 0's EAX) reaches it.
    let max_leaf = __cpuid_count(0, 0).eax;
    if max_leaf < 7 {
        return false;
    }
    let edx = __cpuid_count(7, 0).edx;
    let (amx_bf16, amx_tile) = (edx & (1 << 22) != 0, edx & (1 << 24) != 0);
    let osxsave = __cpuid_count(1, 0).ecx & (1 << 27) != 0;
    if !(amx_bf16 && amx_tile && osxsave) {
        return false;
    }
    let xcr0 = read_xcr0();
    xcr0 & (1 << 17) != 0 && xcr0 & (1 << 18) != 0
}

/// XCR0, by XGETBV with ECX = 0.
#[cfg(target_arch = "x86_64")]
fn read_xcr0() -> u64 {
    let (eax, edx): (u32, u32);
    // SAFETY: XGETBV with ECX = 0 reads XCR0 and is valid wherever
    // CPUID.1:ECX.OSXSAVE is set, which the only caller checked first. It
    // touches no memory and no flags.
    unsafe {
        std::arch::asm!(
            "xgetbv",
            in("ecx") 0u32,
            out("eax") eax,
            out("edx") edx,
            options(nomem, nostack, preserves_flags),
        );
    }
    (u64::from(edx) << 32) | u64::from(eax)
}

/// Linux's `ARCH_REQ_XCOMP_PERM` (`arch/x86/include/uapi/asm/prctl.h`).
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
const ARCH_REQ_XCOMP_PERM: libc::c_ulong = 0x1023;
/// The state component of the AMX tile data.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
const XFEATURE_XTILEDATA: libc::c_ulong = 18;

/// Asks Linux for the tile data for the whole process (idempotent: asking
/// again once granted succeeds again).
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn request_tile_data() -> Result<(), TileRefusal> {
    // SAFETY: arch_prctl(ARCH_REQ_XCOMP_PERM, feature) takes two integer
    // arguments, reads and writes no user memory, and only changes which
    // register state the kernel lets this process use.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        )
    };
    let errno = if ret == 0 {
        0
    } else {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
    };
    tile_permission(ret, errno)
}

/// Not Linux: no AMX path (the permission protocol differs; untested).
#[cfg(all(target_arch = "x86_64", not(target_os = "linux")))]
fn request_tile_data() -> Result<(), TileRefusal> {
    Err(TileRefusal::Unsupported)
}

/// Why the operating system did not grant the AMX tile data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
enum TileRefusal {
    /// EPERM: refused by policy (seccomp, a sandbox).
    Forbidden,
    /// ENOSPC: the enlarged signal frame does not fit an alternate signal
    /// stack this process installed.
    SignalStackTooSmall,
    /// EINVAL (or ENOSYS): a kernel without the request or without AMX.
    Unsupported,
    /// Any other errno.
    Other(i32),
}

impl fmt::Display for TileRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TileRefusal::Forbidden => f.write_str("EPERM: refused by policy"),
            TileRefusal::SignalStackTooSmall => {
                f.write_str("ENOSPC: an alternate signal stack is too small for the tile state")
            }
            TileRefusal::Unsupported => {
                f.write_str("EINVAL: the operating system does not offer AMX to processes")
            }
            TileRefusal::Other(errno) => write!(f, "errno {errno}"),
        }
    }
}

/// The outcome of `arch_prctl(ARCH_REQ_XCOMP_PERM, …)` returning `ret`
/// with `errno` (read only when `ret != 0`). Any refusal means no `amx`
/// path, never an error: the pure part of `request_tile_data`, tested.
#[cfg_attr(
    not(all(target_arch = "x86_64", target_os = "linux")),
    allow(dead_code)
)]
fn tile_permission(ret: i64, errno: i32) -> Result<(), TileRefusal> {
    if ret == 0 {
        return Ok(());
    }
    Err(match errno {
        libc::EPERM => TileRefusal::Forbidden,
        libc::ENOSPC => TileRefusal::SignalStackTooSmall,
        libc::EINVAL | libc::ENOSYS => TileRefusal::Unsupported,
        other => TileRefusal::Other(other),
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn has_avx2_fma() -> bool {
    false
}

#[cfg(not(target_arch = "x86_64"))]
fn has_avx512() -> bool {
    false
}

#[cfg(not(target_arch = "x86_64"))]
fn has_avx512bf16() -> bool {
    false
}

#[cfg(not(target_arch = "x86_64"))]
fn has_amx() -> bool {
    false
}

impl Isa {
    fn info(self) -> &'static PathInfo {
        &PATHS[self as usize]
    }

    /// The path's name, as `MMCLUST_ISA` and `--json` spell it: `"scalar"`,
    /// `"avx2"`, `"avx512"`, `"avx512bf16"`, `"amx"`.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Every path, available here or not, most capable first: what a test
    /// loops over (with [`Isa::run_or_skip`]).
    #[must_use]
    pub fn test_paths() -> &'static [Isa] {
        static ALL: OnceLock<Vec<Isa>> = OnceLock::new();
        ALL.get_or_init(|| PATHS.iter().rev().map(|p| p.isa).collect())
    }

    /// The paths this CPU can run, most capable first (never empty: the
    /// last is [`Isa::Scalar`]). Detected once.
    #[must_use]
    pub fn available() -> &'static [Isa] {
        static AVAILABLE: OnceLock<Vec<Isa>> = OnceLock::new();
        AVAILABLE.get_or_init(|| {
            PATHS
                .iter()
                .rev()
                .filter(|p| (p.detect)())
                .map(|p| p.isa)
                .collect()
        })
    }

    /// The paths this CPU cannot run, most capable first.
    #[must_use]
    pub fn missing() -> Vec<Isa> {
        Isa::test_paths()
            .iter()
            .copied()
            .filter(|isa| !isa.is_available())
            .collect()
    }

    /// The most capable path this CPU can run.
    #[must_use]
    pub fn detected() -> Isa {
        Isa::available().first().copied().unwrap_or(Isa::Scalar)
    }

    /// Whether this CPU can run the path.
    #[must_use]
    pub fn is_available(self) -> bool {
        Isa::available().contains(&self)
    }

    /// The process default path: the one `MMCLUST_ISA` names, or the most
    /// capable one when it is unset or empty. Read once per process.
    ///
    /// # Errors
    /// [`CoreError::Isa`] when `MMCLUST_ISA` names an unknown path or one
    /// this CPU cannot run (the message names the paths it can).
    pub fn process_default() -> Result<Isa, CoreError> {
        static DEFAULT: OnceLock<Result<Isa, String>> = OnceLock::new();
        DEFAULT
            .get_or_init(|| {
                let raw = std::env::var_os(ENV_VAR).map(|v| v.to_string_lossy().into_owned());
                Isa::select(raw.as_deref(), Isa::available()).map_err(|e| match e {
                    CoreError::Isa(message) => message,
                    other => other.to_string(),
                })
            })
            .clone()
            .map_err(CoreError::Isa)
    }

    /// The path the kernel entry points without an `isa` argument run: the
    /// process default, or the most capable path when `MMCLUST_ISA` is
    /// invalid (the fit entry points have reported that error before any
    /// kernel runs: they call [`Isa::process_default`] first).
    #[must_use]
    pub fn current() -> Isa {
        Isa::process_default().unwrap_or_else(|_| Isa::detected())
    }

    /// The path a value of `MMCLUST_ISA` asks for, given the paths `available`
    /// (most capable first): the most capable one when `requested` is `None`
    /// or blank. The pure part of [`Isa::process_default`].
    ///
    /// # Errors
    /// [`CoreError::Isa`] when `requested` is no path's name (case aside), or
    /// names one not in `available`.
    pub fn select(requested: Option<&str>, available: &[Isa]) -> Result<Isa, CoreError> {
        let best = available.first().copied().unwrap_or(Isa::Scalar);
        let Some(raw) = requested.filter(|r| !r.trim().is_empty()) else {
            return Ok(best);
        };
        let have = || {
            let mut names: Vec<&str> = available.iter().rev().map(|i| i.name()).collect();
            if names.is_empty() {
                names.push(Isa::Scalar.name());
            }
            names.join(", ")
        };
        let problem = match raw.parse::<Isa>() {
            Ok(isa) if available.contains(&isa) || (isa == Isa::Scalar) => return Ok(isa),
            Ok(_) => "",
            Err(_) => " unknown path;",
        };
        Err(CoreError::Isa(format!(
            "{ENV_VAR}={raw}:{problem} this CPU has {}; set {ENV_VAR} to one of those or unset it",
            have()
        )))
    }

    /// The most capable of `paths` that this path includes (at or below it),
    /// else [`Isa::Scalar`]: how a kernel with variants for some paths only
    /// picks one. `paths` need not be sorted.
    #[must_use]
    pub fn best_of(self, paths: &[Isa]) -> Isa {
        paths
            .iter()
            .copied()
            .filter(|&p| p <= self)
            .max()
            .unwrap_or(Isa::Scalar)
    }

    /// For tests that loop over [`Isa::test_paths`]: true when this CPU can
    /// run the path; otherwise prints `SKIP <test_name>: <path> not on this
    /// CPU` to stderr and returns false, so that no path passes silently.
    #[must_use]
    pub fn run_or_skip(self, test_name: &str) -> bool {
        if self.is_available() {
            return true;
        }
        eprintln!("SKIP {test_name}: {} not on this CPU", self.name());
        false
    }

    /// The paths of [`Isa::test_paths`] this CPU runs, most capable first,
    /// after [`Isa::run_or_skip`] has printed the SKIP line of each other one.
    #[must_use]
    pub fn paths_for_test(test_name: &str) -> Vec<Isa> {
        Isa::test_paths()
            .iter()
            .copied()
            .filter(|isa| isa.run_or_skip(test_name))
            .collect()
    }

    /// Why this CPU, which has AMX, cannot run the `amx` path: the operating
    /// system refused the tile data (see the module documentation). `None`
    /// when the path is available or the CPU has no AMX.
    #[must_use]
    pub fn amx_refusal() -> Option<String> {
        match amx_permission() {
            Some(Err(refusal)) => Some(format!(
                "the AMX tile data was refused ({refusal}); running avx512bf16"
            )),
            _ => None,
        }
    }

    /// Panics unless this CPU can run the path: the guard of every public
    /// `*_with` kernel entry point, which run `unsafe` code compiled for the
    /// path's extensions.
    #[track_caller]
    pub(crate) fn assert_available(self) {
        assert!(
            self.is_available(),
            "kernel path {} asked for, but this CPU cannot run it (it has {:?})",
            self.name(),
            Isa::available()
        );
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Isa {
    type Err = CoreError;

    /// Parses a path's name, ignoring ASCII case and surrounding blanks.
    fn from_str(s: &str) -> Result<Isa, CoreError> {
        let s = s.trim();
        PATHS
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(s))
            .map(|p| p.isa)
            .ok_or_else(|| {
                let names: Vec<&str> = PATHS.iter().map(|p| p.name).collect();
                CoreError::Isa(format!(
                    "unknown instruction-set path {s:?}: expected one of {}",
                    names.join(", ")
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_follows_the_variants() {
        for (i, p) in PATHS.iter().enumerate() {
            assert_eq!(p.isa as usize, i, "{}", p.name);
            assert_eq!(p.name.parse::<Isa>().unwrap(), p.isa);
            assert_eq!(p.isa.to_string(), p.name);
        }
        assert_eq!(Isa::test_paths().len(), PATHS.len());
        assert!(Isa::test_paths().windows(2).all(|w| w[0] > w[1]));
    }

    /// Lists what this CPU has and what it lacks (visible with
    /// `--nocapture`), and checks the two are consistent: the available
    /// paths are the least capable ones, scalar always among them.
    #[test]
    fn lists_the_available_and_missing_paths() {
        let names = |v: &[Isa]| v.iter().map(|i| i.name()).collect::<Vec<_>>().join(", ");
        let (have, lack) = (Isa::available(), Isa::missing());
        eprintln!(
            "instruction-set paths: available [{}], missing [{}]",
            names(have),
            names(&lack)
        );
        assert_eq!(have.len() + lack.len(), Isa::test_paths().len());
        assert_eq!(have.last(), Some(&Isa::Scalar));
        assert_eq!(Isa::detected(), have[0]);
        // A path includes those below it: nothing missing sits below an
        // available one.
        for &l in &lack {
            assert!(have.iter().all(|&h| h < l), "{l} missing below {have:?}");
        }
        #[cfg(not(target_arch = "x86_64"))]
        assert_eq!(have, &[Isa::Scalar]);
    }

    #[test]
    fn parsing_ignores_case_and_blanks_and_names_the_choices() {
        assert_eq!(" AVX2 ".parse::<Isa>().unwrap(), Isa::Avx2);
        assert_eq!("Avx512".parse::<Isa>().unwrap(), Isa::Avx512);
        let e = "sse".parse::<Isa>().unwrap_err().to_string();
        assert!(
            e.contains("\"sse\"") && e.contains("scalar, avx2, avx512, avx512bf16, amx"),
            "{e}"
        );
    }

    #[test]
    fn the_bf16_paths_parse_and_sit_above_avx512() {
        assert_eq!("avx512bf16".parse::<Isa>().unwrap(), Isa::Avx512Bf16);
        assert_eq!(" AMX".parse::<Isa>().unwrap(), Isa::Amx);
        assert!(Isa::Avx512 < Isa::Avx512Bf16 && Isa::Avx512Bf16 < Isa::Amx);
        // The f32 kernels (variants for AVX-512 and AVX2 only) run their
        // AVX-512 variant on both bf16 paths.
        let f32_kernel = [Isa::Avx512, Isa::Avx2];
        assert_eq!(Isa::Amx.best_of(&f32_kernel), Isa::Avx512);
        assert_eq!(Isa::Avx512Bf16.best_of(&f32_kernel), Isa::Avx512);
        assert_eq!(Isa::Amx.best_of(&[Isa::Avx512Bf16]), Isa::Avx512Bf16);
        let all = [
            Isa::Amx,
            Isa::Avx512Bf16,
            Isa::Avx512,
            Isa::Avx2,
            Isa::Scalar,
        ];
        assert_eq!(Isa::select(None, &all).unwrap(), Isa::Amx);
        assert_eq!(
            Isa::select(Some("avx512bf16"), &all).unwrap(),
            Isa::Avx512Bf16
        );
        let e = Isa::select(Some("amx"), &all[1..]).unwrap_err();
        assert!(
            e.to_string()
                .contains("this CPU has scalar, avx2, avx512, avx512bf16;"),
            "{e}"
        );
    }

    /// The errno handling of the AMX permission request: granted, or one of
    /// the refusals, every one of which leaves the path out (no error).
    #[test]
    fn tile_permission_maps_every_refusal_to_no_amx() {
        assert_eq!(tile_permission(0, 0), Ok(()));
        assert_eq!(tile_permission(0, libc::EPERM), Ok(()));
        assert_eq!(
            tile_permission(-1, libc::EPERM),
            Err(TileRefusal::Forbidden)
        );
        assert_eq!(
            tile_permission(-1, libc::ENOSPC),
            Err(TileRefusal::SignalStackTooSmall)
        );
        assert_eq!(
            tile_permission(-1, libc::EINVAL),
            Err(TileRefusal::Unsupported)
        );
        assert_eq!(
            tile_permission(-1, libc::ENOSYS),
            Err(TileRefusal::Unsupported)
        );
        assert_eq!(tile_permission(-1, 5), Err(TileRefusal::Other(5)));
        let said = TileRefusal::SignalStackTooSmall.to_string();
        assert!(said.starts_with("ENOSPC"), "{said}");
        // Granted here or refused, never both: the refusal is reported only
        // where the path is missing.
        if Isa::Amx.is_available() {
            assert_eq!(Isa::amx_refusal(), None);
        } else if let Some(why) = Isa::amx_refusal() {
            eprintln!("amx not available: {why}");
            assert!(Isa::Avx512Bf16.is_available());
        }
    }

    #[test]
    fn select_takes_the_best_unless_told() {
        let all = [Isa::Avx512, Isa::Avx2, Isa::Scalar];
        assert_eq!(Isa::select(None, &all).unwrap(), Isa::Avx512);
        assert_eq!(Isa::select(Some(""), &all).unwrap(), Isa::Avx512);
        assert_eq!(Isa::select(Some("  "), &all).unwrap(), Isa::Avx512);
        assert_eq!(Isa::select(Some("scalar"), &all).unwrap(), Isa::Scalar);
        assert_eq!(Isa::select(Some("avx2"), &all).unwrap(), Isa::Avx2);
        assert_eq!(Isa::select(Some("avx512"), &all).unwrap(), Isa::Avx512);
        assert_eq!(
            Isa::select(None, &[Isa::Avx2, Isa::Scalar]).unwrap(),
            Isa::Avx2
        );
        assert_eq!(Isa::select(None, &[Isa::Scalar]).unwrap(), Isa::Scalar);
    }

    #[test]
    fn select_refuses_a_missing_path_naming_the_available_ones() {
        let e = Isa::select(Some("avx512"), &[Isa::Avx2, Isa::Scalar]).unwrap_err();
        assert!(e.is_input_error());
        assert_eq!(
            e.to_string(),
            "MMCLUST_ISA=avx512: this CPU has scalar, avx2; set MMCLUST_ISA to one of those or \
             unset it"
        );
        let e = Isa::select(Some("avx2"), &[Isa::Scalar]).unwrap_err();
        assert!(e.to_string().contains("this CPU has scalar;"), "{e}");
        assert!(!e.to_string().contains('\n'));
    }

    #[test]
    fn select_refuses_an_unknown_path() {
        let all = [Isa::Avx512, Isa::Avx2, Isa::Scalar];
        let e = Isa::select(Some("bogus"), &all).unwrap_err();
        assert!(matches!(e, CoreError::Isa(_)));
        assert_eq!(
            e.to_string(),
            "MMCLUST_ISA=bogus: unknown path; this CPU has scalar, avx2, avx512; set MMCLUST_ISA \
             to one of those or unset it"
        );
    }

    #[test]
    fn best_of_picks_the_best_variant_at_or_below() {
        let kernel = [Isa::Avx512, Isa::Avx2];
        assert_eq!(Isa::Avx512.best_of(&kernel), Isa::Avx512);
        assert_eq!(Isa::Avx2.best_of(&kernel), Isa::Avx2);
        assert_eq!(Isa::Scalar.best_of(&kernel), Isa::Scalar);
        // A kernel with an AVX2 variant only runs it on the AVX-512 path.
        assert_eq!(Isa::Avx512.best_of(&[Isa::Avx2]), Isa::Avx2);
        assert_eq!(Isa::Avx2.best_of(&[Isa::Avx512]), Isa::Scalar);
    }

    #[test]
    fn the_process_default_is_available_or_an_error() {
        // Whatever the environment of this test run: a path this CPU has,
        // or the error (tests never set the variable).
        match Isa::process_default() {
            Ok(isa) => {
                assert!(isa.is_available());
                assert_eq!(Isa::current(), isa);
            }
            Err(e) => {
                assert!(e.to_string().starts_with("MMCLUST_ISA="), "{e}");
                assert_eq!(Isa::current(), Isa::detected());
            }
        }
    }

    #[test]
    fn run_or_skip_says_whether_the_path_runs() {
        for &isa in Isa::test_paths() {
            assert_eq!(
                isa.run_or_skip("run_or_skip_says_whether_the_path_runs"),
                isa.is_available()
            );
        }
        assert!(Isa::Scalar.run_or_skip("scalar"));
        assert_eq!(Isa::paths_for_test("paths_for_test"), Isa::available());
    }
}
