//! The contracts the generator puts in packets by default, and the check
//! that refuses contracts no router would forward.

use newipd_core::contract::budget::Refusal;
use newipd_core::contract::{lbf, max_delay, precise_lbf};
use newipd_core::wire::newip::build::ContractDesc;
use newipd_core::wire::newip::PreciseLbf;

/// The hop count (`fib_tohops`) an LBF contract carries when nothing says
/// otherwise: the path may be up to 8 routers long. Each router takes one
/// off and a router refuses a contract that arrives with 0
/// (`newip-lbf-no-hops`), so this must be at least the number of routers
/// on the path; each router's share of the budget is what is left of it
/// divided by the hops to go.
pub const LBF_TOHOPS: u16 = 8;

/// The LBF contract of the `newip-lbf` benchmark traffic: min 0, max 50 ms,
/// experienced 0, fib_todelay 5 ms, fib_tohops [`LBF_TOHOPS`].
pub const BENCH_LBF: ContractDesc = ContractDesc::Lbf {
    min_delay: 0,
    max_delay: 50,
    experienced_delay: 0,
    fib_todelay: 5,
    fib_tohops: LBF_TOHOPS,
};

/// The precise LBF value of the `newip-plbf` traffic: max 5 ms.
pub const BENCH_PLBF: PreciseLbf = PreciseLbf {
    min_ns: 0,
    max_ns: 5_000_000,
    experienced_ns: 0,
    hops: 0,
    flags: 0,
};

/// Refuse a contract list that every router drops on arrival, whatever its
/// routes: an LBF contract with no hops left (`newip-lbf-no-hops`) or whose
/// experienced delay and delay to go already exceed its maximum
/// (`newip-early-discard`), a max-delay contract already past its maximum
/// (`newip-max-delay-exceeded`), a precise LBF contract already past its
/// maximum without `late_ok` (`newip-infeasible`). As a router does, a
/// second contract of a kind is forgiven when the first precise LBF
/// contract allows late delivery. The message names the contract and the
/// field (`contracts[1].tohops: ...`).
pub fn check_forwardable(contracts: &[ContractDesc]) -> Result<(), String> {
    let late_ok = contracts.iter().find_map(|c| match c {
        ContractDesc::PreciseLbf(p) => Some(p.flags & PreciseLbf::LATE_OK != 0),
        _ => None,
    });
    let late_ok = late_ok.unwrap_or(false);
    let (mut max_delay, mut lbf) = (false, false);
    for (i, c) in contracts.iter().enumerate() {
        // The routers' own arrival rules decide, over the most favourable
        // route (no delay to go, one hop).
        let refusal = match *c {
            ContractDesc::MaxDelay { max_allowed_delay, delay_exp } => {
                let first = !std::mem::replace(&mut max_delay, true);
                let refused = (first || !late_ok).then(|| max_delay::budget(max_allowed_delay, delay_exp).err()).flatten();
                refused.map(|r| {
                    format!("exp_ms: {delay_exp} ms already spent of max_ms {max_allowed_delay}: every router drops it ({})", r.reason().name())
                })
            }
            ContractDesc::Lbf { min_delay, max_delay: max, experienced_delay, fib_todelay, fib_tohops } => {
                let first = !std::mem::replace(&mut lbf, true);
                if !first && late_ok {
                    None
                } else {
                    match lbf::budget(min_delay, max, experienced_delay, fib_todelay, fib_tohops) {
                        Ok(_) => None,
                        Err(Refusal::NoHops) => Some(format!(
                            "tohops: 0 hops to go: every router drops it ({}); give the routers on the path, at least 1 (default {LBF_TOHOPS})",
                            Refusal::NoHops.reason().name()
                        )),
                        Err(r) => Some(format!(
                            "todelay_ms: exp_100us {experienced_delay} plus todelay_ms {fib_todelay} is above max_ms {max}: every router drops it ({})",
                            r.reason().name()
                        )),
                    }
                }
            }
            // The first one allows late delivery by its own flag, and a
            // second one by the first one's.
            ContractDesc::PreciseLbf(p) => {
                let refused = (!late_ok).then(|| precise_lbf::budget(p.min_ns, p.max_ns, p.experienced_ns, 0, 1).err()).flatten();
                refused.map(|r| {
                    format!(
                        "experienced_ns: {} is above max_ns {} without late_ok: every router drops it ({})",
                        p.experienced_ns,
                        p.max_ns,
                        r.reason().name()
                    )
                })
            }
            _ => None,
        };
        if let Some(e) = refusal {
            return Err(format!("contracts[{i}].{e}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lbf(max: u16, exp: u16, todelay: u16, tohops: u16) -> ContractDesc {
        ContractDesc::Lbf { min_delay: 0, max_delay: max, experienced_delay: exp, fib_todelay: todelay, fib_tohops: tohops }
    }

    fn plbf(max_ns: u32, experienced_ns: u32, late_ok: bool) -> ContractDesc {
        ContractDesc::PreciseLbf(PreciseLbf {
            max_ns,
            experienced_ns,
            flags: if late_ok { PreciseLbf::LATE_OK } else { 0 },
            ..Default::default()
        })
    }

    /// Each refusal agrees with the router's own budget arithmetic.
    #[test]
    fn refuses_what_the_budget_refuses() {
        use newipd_core::contract::{lbf as l, max_delay as m, precise_lbf as p};
        for (c, refused) in [
            (lbf(10, 0, 0, 0), l::budget(0, 10, 0, 0, 0).is_err()),
            (lbf(10, 0, 0, 1), l::budget(0, 10, 0, 0, 1).is_err()),
            (lbf(10, 50, 6, 2), l::budget(0, 10, 50, 6, 2).is_err()),
            (lbf(10, 50, 5, 2), l::budget(0, 10, 50, 5, 2).is_err()),
            (lbf(0, 900, 90, 2), l::budget(0, 0, 900, 90, 2).is_err()),
            (ContractDesc::MaxDelay { max_allowed_delay: 5, delay_exp: 6 }, m::budget(5, 6).is_err()),
            (ContractDesc::MaxDelay { max_allowed_delay: 5, delay_exp: 5 }, m::budget(5, 5).is_err()),
            (plbf(1000, 1001, false), p::budget(0, 1000, 1001, 0, 1).is_err()),
            (plbf(1000, 1000, false), p::budget(0, 1000, 1000, 0, 1).is_err()),
            (BENCH_LBF, false),
            (ContractDesc::PreciseLbf(BENCH_PLBF), false),
        ] {
            assert_eq!(check_forwardable(std::slice::from_ref(&c)).is_err(), refused, "{c:?}");
        }
        // Late delivery allowed: the precise LBF one passes, and so does a second LBF.
        assert!(check_forwardable(&[plbf(1000, 2000, true)]).is_ok());
        assert!(check_forwardable(&[lbf(10, 0, 0, 3), plbf(1000, 0, true), lbf(10, 0, 0, 0)]).is_ok());
        let e = check_forwardable(&[lbf(10, 0, 0, 3), plbf(1000, 0, false), lbf(10, 0, 0, 0)]).unwrap_err();
        assert!(e.starts_with("contracts[2].tohops: ") && e.contains("newip-lbf-no-hops"), "{e}");
        // The first LBF is refused whatever the precise LBF allows.
        assert!(check_forwardable(&[lbf(10, 0, 0, 0), plbf(1000, 0, true)]).unwrap_err().starts_with("contracts[0].tohops"));
    }
}
