/*
 * C shim: exports DPDK's static inline functions as real symbols so Rust can
 * call them. Each function is a one-line forward; keep it that way.
 */
#include <stddef.h>
#include <string.h>
#include "newipd_ffi.h"

uint16_t newipd_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_rx_burst(port, queue, pkts, n);
}

uint16_t newipd_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_tx_burst(port, queue, pkts, n);
}

struct rte_mbuf *newipd_pktmbuf_alloc(struct rte_mempool *mp)
{
	return rte_pktmbuf_alloc(mp);
}

int newipd_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **pkts, unsigned int n)
{
	return rte_pktmbuf_alloc_bulk(mp, pkts, n);
}

void newipd_pktmbuf_free(struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

void newipd_pktmbuf_free_bulk(struct rte_mbuf **pkts, unsigned int n)
{
	rte_pktmbuf_free_bulk(pkts, n);
}

char *newipd_pktmbuf_adj(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_adj(m, len);
}

int newipd_pktmbuf_trim(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_trim(m, len);
}

char *newipd_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_prepend(m, len);
}

char *newipd_pktmbuf_append(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_append(m, len);
}

void *newipd_pktmbuf_data(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod(m, void *);
}

uint16_t newipd_pktmbuf_data_len(const struct rte_mbuf *m)
{
	return rte_pktmbuf_data_len(m);
}

uint32_t newipd_pktmbuf_pkt_len(const struct rte_mbuf *m)
{
	return rte_pktmbuf_pkt_len(m);
}

uint16_t newipd_pktmbuf_headroom(const struct rte_mbuf *m)
{
	return rte_pktmbuf_headroom(m);
}

uint16_t newipd_pktmbuf_tailroom(const struct rte_mbuf *m)
{
	return rte_pktmbuf_tailroom(m);
}

uint16_t newipd_mbuf_refcnt(const struct rte_mbuf *m)
{
	return rte_mbuf_refcnt_read(m);
}

uint16_t newipd_mbuf_nb_segs(const struct rte_mbuf *m)
{
	return m->nb_segs;
}

uint16_t newipd_mbuf_port(const struct rte_mbuf *m)
{
	return m->port;
}

uint32_t newipd_mbuf_off_buf_addr(void)
{
	return offsetof(struct rte_mbuf, buf_addr);
}

uint32_t newipd_mbuf_off_data_off(void)
{
	return offsetof(struct rte_mbuf, data_off);
}

uint32_t newipd_mbuf_off_data_len(void)
{
	return offsetof(struct rte_mbuf, data_len);
}

uint32_t newipd_mbuf_off_pkt_len(void)
{
	return offsetof(struct rte_mbuf, pkt_len);
}

int newipd_errno(void)
{
	return rte_errno;
}

uint64_t newipd_rdtsc(void)
{
	return rte_rdtsc();
}

unsigned int newipd_lcore_id(void)
{
	return rte_lcore_id();
}

unsigned int newipd_ring_enqueue_burst_elem(struct rte_ring *r, const void *objs, unsigned int esize, unsigned int n, unsigned int *free_space)
{
	return rte_ring_enqueue_burst_elem(r, objs, esize, n, free_space);
}

unsigned int newipd_ring_dequeue_burst_elem(struct rte_ring *r, void *objs, unsigned int esize, unsigned int n, unsigned int *available)
{
	return rte_ring_dequeue_burst_elem(r, objs, esize, n, available);
}

unsigned int newipd_ring_enqueue_bulk_elem(struct rte_ring *r, const void *objs, unsigned int esize, unsigned int n, unsigned int *free_space)
{
	return rte_ring_enqueue_bulk_elem(r, objs, esize, n, free_space);
}

unsigned int newipd_ring_dequeue_bulk_elem(struct rte_ring *r, void *objs, unsigned int esize, unsigned int n, unsigned int *available)
{
	return rte_ring_dequeue_bulk_elem(r, objs, esize, n, available);
}

unsigned int newipd_ring_count(const struct rte_ring *r)
{
	return rte_ring_count(r);
}

void newipd_eth_conf_rss(struct rte_eth_conf *conf, uint64_t device_rss_offloads)
{
	conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
	conf->rx_adv_conf.rss_conf.rss_key = NULL;
	conf->rx_adv_conf.rss_conf.rss_hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_TCP) & device_rss_offloads;
}

int newipd_lpm_lookup_bulk(const struct rte_lpm *lpm, const uint32_t *ips, uint32_t *next_hops, unsigned int n)
{
	return rte_lpm_lookup_bulk(lpm, ips, next_hops, n);
}

/* The one loop here: rte_lpm_lookupx4 takes a vector register, which Rust
 * cannot pass; a call per 4 addresses would also cost more than the lookup. */
void newipd_lpm_lookupx4_bulk(const struct rte_lpm *lpm, const uint32_t *ips, uint32_t *hops, unsigned int n, uint32_t defv)
{
	for (unsigned int i = 0; i + 4 <= n; i += 4) {
		xmm_t v;
		memcpy(&v, ips + i, sizeof(v));
		rte_lpm_lookupx4(lpm, v, hops + i, defv);
	}
}
