//! Who polls which RX queue and who owns which egress port, in pipelined
//! mode. Pure: decided from queue counts, tested without DPDK.

/// The lcore plan of a pipelined run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// For each RX lcore (in `[lcores] rx` order): the (port index, queue) pairs it polls.
    pub rx: Vec<Vec<(usize, u16)>>,
    /// For each port: the index (in `[lcores] tx` order) of the egress lcore that owns it.
    pub owner: Vec<usize>,
}

/// Spread the RX queues of every port (`queues[port]` of them) over `n_rx`
/// lcores in turn, and the ports over `n_tx` egress lcores in turn. Every
/// lcore gets work, or it is an error that names the setting.
pub fn plan(queues: &[u16], n_rx: usize, n_tx: usize) -> Result<Plan, String> {
    let pairs: Vec<(usize, u16)> = queues.iter().enumerate().flat_map(|(p, &n)| (0..n).map(move |q| (p, q))).collect();
    if n_rx == 0 || n_rx > pairs.len() {
        return Err(format!("lcores.rx: {n_rx} RX lcores for {} RX queues; give each RX lcore at least one (port rx_queues)", pairs.len()));
    }
    if n_tx == 0 || n_tx > queues.len() {
        return Err(format!("lcores.tx: {n_tx} TX lcores for {} ports; each TX lcore must own at least one port", queues.len()));
    }
    let mut rx = vec![Vec::new(); n_rx];
    for (i, pq) in pairs.into_iter().enumerate() {
        rx[i % n_rx].push(pq);
    }
    Ok(Plan { rx, owner: (0..queues.len()).map(|p| p % n_tx).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_queues_and_ports_in_turn() {
        let p = plan(&[2, 1, 1], 2, 2).unwrap();
        assert_eq!(p.rx, vec![vec![(0, 0), (1, 0)], vec![(0, 1), (2, 0)]]);
        assert_eq!(p.owner, vec![0, 1, 0]);
        let one = plan(&[1, 1], 1, 1).unwrap();
        assert_eq!((one.rx, one.owner), (vec![vec![(0, 0), (1, 0)]], vec![0, 0]));
    }

    #[test]
    fn idle_lcores_are_refused_by_name() {
        assert!(plan(&[1], 2, 1).unwrap_err().starts_with("lcores.rx"));
        assert!(plan(&[1], 1, 2).unwrap_err().starts_with("lcores.tx"));
    }
}
