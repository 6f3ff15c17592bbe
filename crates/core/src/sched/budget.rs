//! Per-hop latency budgets from contracts, exactly as the wire-format spec
//! gives them. Every function is pure and returns times relative to the
//! packet's arrival `t_rcv`, in nanoseconds: `hold` (eligible from
//! `t_rcv + hold`) and `deadline` (send by `t_rcv + deadline`; `None` = best
//! effort).

/// What a contract asks of this hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub hold_ns: u64,
    pub deadline_ns: Option<u64>,
}

/// Why a contract cannot be honoured on arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Type 1: delay_exp already above max_allowed_delay.
    MaxDelayExceeded,
    /// Type 2: fib_tohops is 0.
    NoHops,
    /// Type 2: experienced + fib_todelay above max_delay.
    EarlyDiscard,
    /// 0x8001: fq_max < 0.
    Infeasible,
}

const NS_PER_MS: u64 = 1_000_000;

/// `RECIP[b] = ceil(2^64 / b)`: with it, `a / b == (a * RECIP[b]) >> 64`
/// exactly for every u32 `a` (Lemire, Kaser and Kurz, "Faster remainder by
/// direct computation", 2019), a multiply instead of a ~25-cycle divide.
const RECIP: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut b = 2;
    while b < 256 {
        t[b] = u64::MAX / b as u64 + 1;
        b += 1;
    }
    t
};

/// `a / b` (b > 0) without the divider for a == 0, b == 1 and hop counts
/// below 256, the only ones real paths have.
#[inline(always)]
fn div_nonzero(a: u32, b: u32) -> u32 {
    if a == 0 || b == 1 {
        a
    } else if b < 256 {
        ((a as u128 * RECIP[b as usize] as u128) >> 64) as u32
    } else {
        a / b
    }
}

pub const NS_PER_TENTH_MS: u64 = 100_000;

/// Type 1, Max Delay Forwarding (ms): the whole remaining budget is this hop's.
pub fn max_delay(max_allowed_ms: u16, delay_exp_ms: u16) -> Result<Budget, Refusal> {
    if delay_exp_ms > max_allowed_ms {
        return Err(Refusal::MaxDelayExceeded);
    }
    Ok(Budget { hold_ns: 0, deadline_ns: Some((max_allowed_ms - delay_exp_ms) as u64 * NS_PER_MS) })
}

/// Type 1 on transmit: the new delay_exp after `local_ns` here, or a refusal
/// if it passes max_allowed_delay. Local delay is rounded to the nearest ms.
pub fn max_delay_on_transmit(max_allowed_ms: u16, delay_exp_ms: u16, local_ns: u64) -> Result<u16, Refusal> {
    let local_ms = (local_ns + NS_PER_MS / 2) / NS_PER_MS;
    let total = delay_exp_ms as u64 + local_ms;
    if total > max_allowed_ms as u64 {
        return Err(Refusal::MaxDelayExceeded);
    }
    Ok(total as u16)
}

/// Type 2, Latency Based Forwarding in the reference units: min/max/todelay in
/// ms, experienced in 0.1 ms. Budgets are computed in 0.1 ms with integer
/// division (as the reference router does); a negative difference counts as 0.
pub fn lbf(min_ms: u16, max_ms: u16, experienced_01ms: u16, todelay_ms: u16, tohops: u16) -> Result<Budget, Refusal> {
    if tohops == 0 {
        return Err(Refusal::NoHops);
    }
    // Everything fits u32 (at most 65535 * 10 + 65535): 32-bit division is cheap.
    let used = experienced_01ms as u32 + todelay_ms as u32 * 10;
    let hops = tohops as u32;
    if max_ms != 0 && used > max_ms as u32 * 10 {
        return Err(Refusal::EarlyDiscard);
    }
    let lq_min = div_nonzero((min_ms as u32 * 10).saturating_sub(used), hops);
    let deadline = (max_ms != 0).then(|| div_nonzero(max_ms as u32 * 10 - used, hops) as u64 * NS_PER_TENTH_MS);
    Ok(Budget { hold_ns: lq_min as u64 * NS_PER_TENTH_MS, deadline_ns: deadline })
}

/// Type 2 on transmit: experienced_delay plus the time spent here (rounded to
/// the nearest 0.1 ms, saturating), and fib_tohops minus one.
pub fn lbf_on_transmit(experienced_01ms: u16, tohops: u16, local_ns: u64) -> (u16, u16) {
    let add = (local_ns + NS_PER_TENTH_MS / 2) / NS_PER_TENTH_MS;
    let exp = (experienced_01ms as u64 + add).min(u16::MAX as u64) as u16;
    (exp, tohops.saturating_sub(1))
}

/// 0x8001 Precise LBF (ns) with the route's `to_hops` (>= 1) and `to_delay_ns`.
/// `max_ns == 0` is best effort; `min_ns == 0` means no earliest time.
pub fn precise_lbf(min_ns: u32, max_ns: u32, experienced_ns: u32, to_delay_ns: u32, to_hops: u16) -> Result<Budget, Refusal> {
    let hops = to_hops.max(1) as u64;
    let used = experienced_ns as u64 + to_delay_ns as u64;
    let hold = if min_ns == 0 { 0 } else { div_nonzero((min_ns as u64).saturating_sub(used).min(u32::MAX as u64) as u32, hops as u32) as u64 };
    let deadline = if max_ns == 0 {
        None
    } else {
        let Some(fq_max) = (max_ns as u64).checked_sub(used) else {
            return Err(Refusal::Infeasible);
        };
        // fq_max <= u32::MAX: divide in 32 bits.
        Some(div_nonzero(fq_max as u32, hops as u32) as u64)
    };
    Ok(Budget { hold_ns: hold, deadline_ns: deadline })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn max_delay_budget_and_transmit() {
        assert_eq!(max_delay(10, 4), Ok(Budget { hold_ns: 0, deadline_ns: Some(6_000_000) }));
        assert_eq!(max_delay(10, 10), Ok(Budget { hold_ns: 0, deadline_ns: Some(0) }));
        assert_eq!(max_delay(10, 11), Err(Refusal::MaxDelayExceeded));
        assert_eq!(max_delay_on_transmit(10, 4, 1_400_000), Ok(5));
        assert_eq!(max_delay_on_transmit(10, 4, 1_600_000), Ok(6));
        assert_eq!(max_delay_on_transmit(10, 10, 400_000), Ok(10));
        assert_eq!(max_delay_on_transmit(10, 10, 600_000), Err(Refusal::MaxDelayExceeded));
        assert_eq!(max_delay_on_transmit(u16::MAX, u16::MAX, u64::MAX / 2), Err(Refusal::MaxDelayExceeded));
    }

    #[test]
    fn lbf_reference_units() {
        // min 10 ms, max 50 ms, 5 ms experienced, 20 ms to go over 3 hops:
        // lq_min = (100 - 50 - 200).max(0)/3 = 0; lq_max = (500 - 50 - 200)/3 = 83 (x0.1 ms).
        assert_eq!(lbf(10, 50, 50, 20, 3), Ok(Budget { hold_ns: 0, deadline_ns: Some(83 * 100_000) }));
        // An on-time window: min 30 ms with nothing left to go on one hop -> hold 30 ms.
        assert_eq!(lbf(30, 40, 0, 0, 1), Ok(Budget { hold_ns: 30_000_000, deadline_ns: Some(40_000_000) }));
        assert_eq!(lbf(0, 0, 9999, 100, 2), Ok(Budget { hold_ns: 0, deadline_ns: None }), "max 0 = best effort, no early discard");
        assert_eq!(lbf(0, 10, 0, 0, 0), Err(Refusal::NoHops));
        assert_eq!(lbf(0, 10, 51, 5, 1), Err(Refusal::EarlyDiscard));
        assert_eq!(lbf(0, 10, 50, 5, 1), Ok(Budget { hold_ns: 0, deadline_ns: Some(0) }));
        assert_eq!(lbf(u16::MAX, u16::MAX, 0, 0, 1).unwrap().hold_ns, u16::MAX as u64 * 10 * 100_000);
        assert_eq!(lbf_on_transmit(10, 3, 260_000), (13, 2));
        assert_eq!(lbf_on_transmit(u16::MAX - 1, 0, 10_000_000), (u16::MAX, 0));
    }

    #[test]
    fn precise_lbf_edges() {
        assert_eq!(precise_lbf(0, 2_000_000, 500_000, 300_000, 2), Ok(Budget { hold_ns: 0, deadline_ns: Some(600_000) }));
        assert_eq!(precise_lbf(1_000_000, 0, 100_000, 100_000, 1), Ok(Budget { hold_ns: 800_000, deadline_ns: None }));
        assert_eq!(precise_lbf(0, 1_000, 1_000, 1, 1), Err(Refusal::Infeasible));
        assert_eq!(precise_lbf(0, 1_000, 1_000, 0, 1), Ok(Budget { hold_ns: 0, deadline_ns: Some(0) }));
        assert_eq!(precise_lbf(0, 1_000, 0, 0, 0), Ok(Budget { hold_ns: 0, deadline_ns: Some(1_000) }), "to_hops 0 is treated as 1");
        assert_eq!(precise_lbf(u32::MAX, u32::MAX, u32::MAX, u32::MAX, 1), Err(Refusal::Infeasible));
        assert_eq!(precise_lbf(u32::MAX, u32::MAX, 0, 0, 1), Ok(Budget { hold_ns: u32::MAX as u64, deadline_ns: Some(u32::MAX as u64) }));
    }

    #[test]
    fn reciprocal_division_is_exact_at_the_edges() {
        for b in 1u32..300 {
            let mut probes = vec![0, 1, 2, b - 1, b, b + 1, u32::MAX, u32::MAX - 1, u32::MAX - b, u32::MAX / b * b, u32::MAX / b * b - 1];
            probes.extend((1..1000).map(|k| k * b - 1).chain((1..1000).map(|k| k * b)));
            for a in probes {
                assert_eq!(div_nonzero(a, b), a / b, "{a} / {b}");
            }
        }
    }

    proptest! {
        #[test]
        fn reciprocal_division_is_exact(a in any::<u32>(), b in 1u32..300) {
            prop_assert_eq!(div_nonzero(a, b), a / b);
        }

        /// The spec's formulas, evaluated in i128 with no shortcuts.
        #[test]
        fn precise_lbf_matches_formula(min in any::<u32>(), max in any::<u32>(), exp in any::<u32>(), td in any::<u32>(), hops in 1u16..) {
            let (min_i, max_i, exp_i, td_i, h) = (min as i128, max as i128, exp as i128, td as i128, hops as i128);
            let fq_min = if min == 0 { 0 } else { (min_i - exp_i - td_i).max(0) };
            let r = precise_lbf(min, max, exp, td, hops);
            if max != 0 && max_i - exp_i - td_i < 0 {
                prop_assert_eq!(r, Err(Refusal::Infeasible));
            } else {
                let b = r.unwrap();
                prop_assert_eq!(b.hold_ns as i128, fq_min / h);
                prop_assert_eq!(b.deadline_ns.map(|d| d as i128), (max != 0).then(|| (max_i - exp_i - td_i) / h));
                if let Some(d) = b.deadline_ns { prop_assert!(b.hold_ns <= d || min > max); }
            }
        }

        #[test]
        fn lbf_matches_formula(min in any::<u16>(), max in any::<u16>(), exp in any::<u16>(), td in any::<u16>(), hops in any::<u16>()) {
            let r = lbf(min, max, exp, td, hops);
            let (mn, mx, e, t, h) = (min as i64 * 10, max as i64 * 10, exp as i64, td as i64 * 10, hops as i64);
            if hops == 0 { prop_assert_eq!(r, Err(Refusal::NoHops)); }
            else if max != 0 && e + t > mx { prop_assert_eq!(r, Err(Refusal::EarlyDiscard)); }
            else {
                let b = r.unwrap();
                prop_assert_eq!(b.hold_ns as i64, (mn - e - t).max(0) / h * 100_000);
                prop_assert_eq!(b.deadline_ns.map(|d| d as i64), (max != 0).then(|| (mx - e - t) / h * 100_000));
            }
        }
    }
}
