//! When `rte_eal_init` fails on memory: what the kernel's hugepages are
//! (/sys/kernel/mm/hugepages, /proc/mounts, /proc/meminfo), so the error
//! names the real cause (none reserved, none mounted, all in use, fewer
//! free than asked) instead of DPDK's "Permission denied".

use super::log::{LogLine, LEVEL_ERR};
use std::sync::atomic::{AtomicU8, Ordering};

/// One hugepage size as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSize {
    pub kb: u64,
    /// `nr_hugepages`: reserved.
    pub total: u64,
    /// `free_hugepages`: reserved and not in use.
    pub free: u64,
    /// A hugetlbfs of this size is mounted.
    pub mounted: bool,
}

/// The machine's hugepages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HugeState {
    /// /sys/kernel/mm/hugepages exists (the kernel has hugetlb pages).
    pub kernel: bool,
    pub sizes: Vec<PageSize>,
    /// The default size (`Hugepagesize` in /proc/meminfo), in kB.
    pub default_kb: u64,
}

const SYS: &str = "/sys/kernel/mm/hugepages";

impl HugeState {
    /// Read the host's state.
    pub fn read() -> HugeState {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let mut sizes = Vec::new();
        let kernel = std::path::Path::new(SYS).is_dir();
        if let Ok(dir) = std::fs::read_dir(SYS) {
            for e in dir.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let Some(kb) = name.strip_prefix("hugepages-").and_then(|s| s.strip_suffix("kB")).and_then(|s| s.parse().ok()) else {
                    continue;
                };
                let num = |f: &str| std::fs::read_to_string(e.path().join(f)).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(0);
                sizes.push(PageSize { kb, total: num("nr_hugepages"), free: num("free_hugepages"), mounted: false });
            }
        }
        sizes.sort_by_key(|s| s.kb);
        Self::from_texts(kernel, sizes, &meminfo, &mounts)
    }

    /// Complete `sizes` (from sysfs) with the default size and the mounts.
    pub fn from_texts(kernel: bool, mut sizes: Vec<PageSize>, meminfo: &str, mounts: &str) -> HugeState {
        let default_kb = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("Hugepagesize:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(2048);
        for m in mounts.lines() {
            let f: Vec<&str> = m.split_whitespace().collect();
            if f.len() < 4 || f[2] != "hugetlbfs" {
                continue;
            }
            let kb = f[3].split(',').find_map(|o| o.strip_prefix("pagesize=")).and_then(size_kb).unwrap_or(default_kb);
            for s in sizes.iter_mut().filter(|s| s.kb == kb) {
                s.mounted = true;
            }
        }
        HugeState { kernel, sizes, default_kb }
    }
}

/// "2M", "1G", "2048k" (hugetlbfs `pagesize=`) in kB.
fn size_kb(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1),
        'm' | 'M' => (&s[..s.len() - 1], 1024),
        'g' | 'G' => (&s[..s.len() - 1], 1024 * 1024),
        _ => (s, 1),
    };
    num.parse::<u64>().ok().map(|n| n * mult)
}

fn human(kb: u64) -> String {
    if kb >= 1024 * 1024 && kb.is_multiple_of(1024 * 1024) {
        format!("{} GB", kb / (1024 * 1024))
    } else {
        format!("{} MB", kb as f64 / 1024.0)
    }
}

/// The hint every hugepage cause ends with.
fn remedy(st: &HugeState) -> String {
    format!(
        "run without hugepages (after `--`: --no-huge -m 512, any MB that fits), or reserve some first, as root: echo 512 > {SYS}/hugepages-{}kB/nr_hugepages",
        st.default_kb
    )
}

/// Why `rte_eal_init` failed, if it failed on hugepages: `args` are the EAL
/// arguments, `lines` what the EAL logged. `None` when the EAL did not fail on
/// memory (no error line of hugepages or memory) or ran with `--no-huge`.
pub fn diagnose(args: &[String], lines: &[LogLine], st: &HugeState) -> Option<String> {
    if args.iter().any(|a| a == "--no-huge") {
        return None;
    }
    // Error lines only: an informational "No available 1048576 kB hugepages reported" is no failure.
    let said = |w: &str| lines.iter().any(|l| l.level <= LEVEL_ERR && l.text.to_lowercase().contains(w));
    if !said("hugepage") && !said("memory") {
        return None;
    }
    if !st.kernel {
        return Some(format!("this kernel offers no hugepages ({SYS} is missing): run with --no-huge -m 512 after `--`"));
    }
    let reserved: Vec<&PageSize> = st.sizes.iter().filter(|s| s.total > 0).collect();
    let list = |v: &[&PageSize], n: fn(&PageSize) -> u64| v.iter().map(|s| format!("{} of {}", n(s), human(s.kb))).collect::<Vec<_>>().join(", ");
    if reserved.is_empty() {
        return Some(format!("no hugepages are reserved (every {SYS}/*/nr_hugepages is 0): {}", remedy(st)));
    }
    let in_memory = args.iter().any(|a| a == "--in-memory");
    let usable: Vec<&PageSize> = reserved.iter().copied().filter(|s| s.mounted || in_memory).collect();
    if usable.is_empty() {
        return Some(format!(
            "hugepages are reserved ({}) but no hugetlbfs is mounted for them (none in /proc/mounts): mount one, as root: mkdir -p /dev/hugepages && mount -t hugetlbfs -o pagesize={}M nodev /dev/hugepages; or run with --no-huge -m 512",
            list(&reserved, |s| s.total),
            reserved[0].kb / 1024
        ));
    }
    let free_kb: u64 = usable.iter().map(|s| s.free * s.kb).sum();
    if free_kb == 0 {
        return Some(format!(
            "every reserved hugepage is in use ({} reserved, free_hugepages 0): other DPDK processes hold them, or a killed one left its files in the hugetlbfs mount (rtemap_*); stop them or remove those files, or {}",
            list(&usable, |s| s.total),
            remedy(st)
        ));
    }
    if said("not enough memory") {
        return Some(format!(
            "fewer hugepages are free than the EAL asked for (-m / --socket-mem): {} free ({}); ask for less, or {}",
            human(free_kb),
            list(&usable, |s| s.free),
            remedy(st)
        ));
    }
    None
}

/// How the EAL was started: 0 not yet, 1 `--no-huge`, 2 on hugepages, 3 on hugepages `--in-memory`.
static MODE: AtomicU8 = AtomicU8::new(0);

/// Remember how the EAL was started (for [`out_of_memory_hint`]).
pub(crate) fn remember(args: &[String]) {
    let has = |f: &str| args.iter().any(|a| a == f);
    MODE.store(if has("--no-huge") { 1 } else if has("--in-memory") { 3 } else { 2 }, Ordering::Relaxed);
}

/// What to do when DPDK memory ran out after the EAL started (a pool did
/// not fit): raise -m without hugepages, else what the hugepages have left.
pub fn out_of_memory_hint() -> String {
    let mode = MODE.load(Ordering::Relaxed);
    if mode != 2 && mode != 3 {
        return "with --no-huge, raise -m".into();
    }
    let st = HugeState::read();
    let usable: Vec<&PageSize> = st.sizes.iter().filter(|s| s.total > 0 && (s.mounted || mode == 3)).collect();
    let free_kb: u64 = usable.iter().map(|s| s.free * s.kb).sum();
    let detail: Vec<String> = usable.iter().map(|s| format!("{} of {} reserved pages of {} free", s.free, s.total, human(s.kb))).collect();
    format!(
        "the EAL runs on hugepages and {} of them are free ({}): reserve more, as root: echo N > {SYS}/hugepages-{}kB/nr_hugepages; or run with --no-huge -m MB",
        human(free_kb),
        if detail.is_empty() { "none usable".to_string() } else { detail.join(", ") },
        st.default_kb
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(sizes: &[(u64, u64, u64)], mounts: &str) -> HugeState {
        let v = sizes.iter().map(|&(kb, total, free)| PageSize { kb, total, free, mounted: false }).collect();
        HugeState::from_texts(true, v, "MemTotal: 1 kB\nHugepagesize:       2048 kB\n", mounts)
    }

    fn line(t: &str) -> LogLine {
        LogLine { level: 4, text: t.into() }
    }

    const NO_INFO: &str = "EAL: FATAL: Cannot get hugepage information.";
    const MOUNT_2M: &str = "nodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n";

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_the_cause_from_the_machine_state() {
        let eal = [line(NO_INFO)];
        let none = st(&[(2048, 0, 0), (1048576, 0, 0)], "");
        let m = diagnose(&args(&["-l", "0-1"]), &eal, &none).unwrap();
        assert!(m.contains("no hugepages are reserved") && m.contains("--no-huge -m") && m.contains("hugepages-2048kB/nr_hugepages"), "{m}");

        let unmounted = st(&[(2048, 64, 64)], "proc /proc proc rw 0 0\n");
        let m = diagnose(&args(&[]), &eal, &unmounted).unwrap();
        assert!(m.contains("no hugetlbfs is mounted") && m.contains("64 of 2 MB"), "{m}");

        let busy = st(&[(2048, 64, 0)], MOUNT_2M);
        let m = diagnose(&args(&[]), &eal, &busy).unwrap();
        assert!(m.contains("every reserved hugepage is in use"), "{m}");

        let few = st(&[(2048, 64, 8)], "nodev /mnt/h hugetlbfs rw 0 0\n");
        assert!(few.sizes[0].mounted, "a mount without pagesize= has the default size");
        let m = diagnose(&args(&["-m", "512"]), &[line("EAL: Not enough memory available on socket 0! Requested: 512MB, available: 16MB")], &few).unwrap();
        assert!(m.contains("16 MB free"), "{m}");
    }

    #[test]
    fn says_nothing_when_hugepages_are_not_the_cause() {
        let none = st(&[(2048, 0, 0)], "");
        assert_eq!(diagnose(&args(&["--no-huge"]), &[line(NO_INFO)], &none), None, "--no-huge");
        assert_eq!(diagnose(&args(&[]), &[line("EAL: invalid core list syntax")], &none), None, "another cause");
        let info = LogLine { level: 7, text: "EAL: No available 1048576 kB hugepages reported".into() };
        assert_eq!(diagnose(&args(&[]), &[info, line("EAL: Cannot create thread")], &none), None, "only error lines count");
        let fine = st(&[(2048, 64, 64)], MOUNT_2M);
        assert_eq!(diagnose(&args(&[]), &[line("EAL: Cannot init memory")], &fine), None, "pages are there");
    }

    #[test]
    fn page_sizes_parse() {
        assert_eq!(size_kb("2M"), Some(2048));
        assert_eq!(size_kb("1G"), Some(1048576));
        assert_eq!(size_kb("2048k"), Some(2048));
        assert_eq!(size_kb("x"), None);
    }
}
