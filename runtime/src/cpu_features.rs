//! The host CPU's features, spelled as LLVM subtarget features, for the
//! `orc-rt.Executor.SubtargetFeatures` bootstrap value (upstream
//! `ExecutorProcessInfo::detectCPUFeatures`, `sys/CPUFeatures`).
//!
//! Detection is std's (`is_x86_feature_detected!`,
//! `is_aarch64_feature_detected!`): cpuid on x86-64, including the OS check
//! (XCR0 via `xgetbv`) that AVX and AVX-512 state is enabled, cached by std.
//! No `unsafe` code here.
//!
//! **What is provided** (spec 14.1): the features of the tables below that the
//! host has, each as `+name`, comma-separated, in table order; nothing else.
//! That is a superset of what upstream reports (its x86 list is sse..avx2, or
//! nothing on Linux) and a subset of LLVM's `sys::getHostCPUFeatures`, which
//! also lists absent features as `-name` and many more names. A feature not
//! mentioned keeps the CPU model's default on the controller's side; every
//! name here is one LLVM's X86 or AArch64 target recognises. Other
//! architectures report nothing.

/// Whether the host has the feature LLVM calls by a given name.
type Probe = fn() -> bool;

// (LLVM's name, how std detects it); where std's name differs, it is given.
#[cfg(target_arch = "x86_64")]
const TABLE: &[(&str, Probe)] = &[
    ("sse", || std::arch::is_x86_feature_detected!("sse")),
    ("sse2", || std::arch::is_x86_feature_detected!("sse2")),
    ("sse3", || std::arch::is_x86_feature_detected!("sse3")),
    ("ssse3", || std::arch::is_x86_feature_detected!("ssse3")),
    ("sse4.1", || std::arch::is_x86_feature_detected!("sse4.1")),
    ("sse4.2", || std::arch::is_x86_feature_detected!("sse4.2")),
    ("popcnt", || std::arch::is_x86_feature_detected!("popcnt")),
    ("cx16", || std::arch::is_x86_feature_detected!("cmpxchg16b")),
    ("avx", || std::arch::is_x86_feature_detected!("avx")),
    ("avx2", || std::arch::is_x86_feature_detected!("avx2")),
    ("fma", || std::arch::is_x86_feature_detected!("fma")),
    ("f16c", || std::arch::is_x86_feature_detected!("f16c")),
    ("bmi", || std::arch::is_x86_feature_detected!("bmi1")),
    ("bmi2", || std::arch::is_x86_feature_detected!("bmi2")),
    ("lzcnt", || std::arch::is_x86_feature_detected!("lzcnt")),
    ("movbe", || std::arch::is_x86_feature_detected!("movbe")),
    ("aes", || std::arch::is_x86_feature_detected!("aes")),
    ("pclmul", || {
        std::arch::is_x86_feature_detected!("pclmulqdq")
    }),
    ("sha", || std::arch::is_x86_feature_detected!("sha")),
    ("fxsr", || std::arch::is_x86_feature_detected!("fxsr")),
    ("xsave", || std::arch::is_x86_feature_detected!("xsave")),
    ("rdrnd", || std::arch::is_x86_feature_detected!("rdrand")),
    ("rdseed", || std::arch::is_x86_feature_detected!("rdseed")),
    ("adx", || std::arch::is_x86_feature_detected!("adx")),
    ("avx512f", || std::arch::is_x86_feature_detected!("avx512f")),
    ("avx512cd", || {
        std::arch::is_x86_feature_detected!("avx512cd")
    }),
    ("avx512bw", || {
        std::arch::is_x86_feature_detected!("avx512bw")
    }),
    ("avx512dq", || {
        std::arch::is_x86_feature_detected!("avx512dq")
    }),
    ("avx512vl", || {
        std::arch::is_x86_feature_detected!("avx512vl")
    }),
];

// Upstream's Darwin list; NEON is mandatory on AArch64.
#[cfg(target_arch = "aarch64")]
const TABLE: &[(&str, Probe)] = &[
    ("neon", || std::arch::is_aarch64_feature_detected!("neon")),
    ("dotprod", || {
        std::arch::is_aarch64_feature_detected!("dotprod")
    }),
    ("fullfp16", || {
        std::arch::is_aarch64_feature_detected!("fp16")
    }),
    ("sha3", || std::arch::is_aarch64_feature_detected!("sha3")),
];

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const TABLE: &[(&str, Probe)] = &[];

/// The LLVM names of the host's features, in table order (see the module
/// docs for which names can appear).
pub fn host_cpu_features() -> Vec<&'static str> {
    TABLE
        .iter()
        .filter(|(_, has)| has())
        .map(|(name, _)| *name)
        .collect()
}

/// Formats feature names as an LLVM subtarget-feature string: each with a
/// `+`, comma-separated; no features give the empty string (upstream
/// `ExecutorProcessInfo::formatCPUFeatures`).
///
/// ```
/// use orc_rt::cpu_features::format_features;
/// assert_eq!(format_features(["sse2", "avx"]), "+sse2,+avx");
/// assert_eq!(format_features::<&str>([]), "");
/// ```
pub fn format_features<S: AsRef<str>>(features: impl IntoIterator<Item = S>) -> String {
    let mut out = String::new();
    for f in features {
        if !out.is_empty() {
            out.push(',');
        }
        out.push('+');
        out.push_str(f.as_ref());
    }
    out
}

/// The host's features as an LLVM subtarget-feature string, for
/// [`ProcessInfo::with_cpu_features`](crate::ProcessInfo::with_cpu_features).
pub fn host_subtarget_features() -> String {
    format_features(host_cpu_features())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Upstream `CPUFeaturesTest.CachedResultIsIdempotent`.
    #[test]
    fn detection_is_stable() {
        assert_eq!(host_cpu_features(), host_cpu_features());
        assert_eq!(host_subtarget_features(), host_subtarget_features());
    }

    // Upstream `CPUFeaturesTest.DetectsBaselineX86Features`: SSE and SSE2
    // are part of the x86-64 baseline.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn x86_64_reports_its_baseline() {
        let features = host_cpu_features();
        assert!(features.starts_with(&["sse", "sse2"]), "{features:?}");
        assert!(host_subtarget_features().starts_with("+sse,+sse2"));
    }

    #[test]
    fn names_are_unique_and_in_table_order() {
        let names: Vec<&str> = TABLE.iter().map(|(n, _)| *n).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "duplicate name");
        let detected = host_cpu_features();
        let positions: Vec<usize> = detected
            .iter()
            .map(|d| names.iter().position(|n| n == d).expect("a table name"))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{detected:?}");
    }

    // Upstream `ExecutorProcessInfoTest.ConstructWithExplicitValues`.
    #[test]
    fn process_info_carries_the_feature_string() {
        let info =
            crate::ProcessInfo::new("x86_64-unknown-linux-gnu", 4096).with_cpu_features("+x,+a,+b");
        assert_eq!(info.target_cpu_features, "+x,+a,+b");
        assert_eq!(info.page_size, Some(4096));
        assert!(crate::ProcessInfo::default().target_cpu_features.is_empty());
    }
}
