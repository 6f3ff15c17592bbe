//! Traffic classes as statistics see them: a small fixed set indexed by a
//! class id, so per-class counters and histograms are plain arrays. The
//! first ids are fixed; the rest are slots for the pipeline's legacy
//! traffic classes, named by the pipeline.

/// Most classes statistics keep apart (ids `0..MAX_CLASSES`).
pub const MAX_CLASSES: usize = 8;

/// Traffic with no contract and no legacy class: best effort.
pub const BEST_EFFORT: u8 = 0;
/// New IP deadline contracts (types 1, 2, 0x8001) and the IPv6 latency option.
pub const NEWIP_DEADLINE: u8 = 1;
/// New IP on-time contract (0x8002).
pub const NEWIP_ONTIME: u8 = 2;
/// First id for the pipeline's legacy traffic classes (`FIRST_LEGACY..MAX_CLASSES`).
pub const FIRST_LEGACY: u8 = 3;

/// The class of a packet from what its contracts asked: on-time beats a
/// plain deadline; no deadline at all is best effort (or `legacy`, a legacy
/// class id the classifier chose, when it is one).
#[inline(always)]
pub fn class_of(has_deadline: bool, on_time: bool, legacy: u8) -> u8 {
    if on_time {
        NEWIP_ONTIME
    } else if has_deadline {
        NEWIP_DEADLINE
    } else if (legacy as usize) < MAX_CLASSES && legacy >= FIRST_LEGACY {
        legacy
    } else {
        BEST_EFFORT
    }
}

/// Names of the classes in id order: the three fixed ones, then the
/// pipeline's legacy class names (at most `MAX_CLASSES - FIRST_LEGACY`;
/// extra names are ignored). Unused slots are left out.
pub fn class_names(legacy: &[String]) -> Vec<String> {
    let mut v: Vec<String> = ["best-effort", "newip-deadline", "newip-ontime"].map(String::from).to_vec();
    v.extend(legacy.iter().take(MAX_CLASSES - FIRST_LEGACY as usize).cloned());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contracts_decide_the_class_before_legacy() {
        assert_eq!(class_of(false, false, 0), BEST_EFFORT);
        assert_eq!(class_of(true, false, 5), NEWIP_DEADLINE);
        assert_eq!(class_of(true, true, 0), NEWIP_ONTIME);
        assert_eq!(class_of(false, false, 4), 4);
        assert_eq!(class_of(false, false, 1), BEST_EFFORT, "a fixed id is not a legacy class");
        assert_eq!(class_of(false, false, MAX_CLASSES as u8), BEST_EFFORT, "out of range");
        let names = class_names(&["voice".into(), "video".into()]);
        assert_eq!(names[FIRST_LEGACY as usize], "voice");
        assert_eq!(names.len(), 5);
        let many: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
        assert_eq!(class_names(&many).len(), MAX_CLASSES);
    }
}
