/*
 * Umbrella header for newipd's DPDK bindings. bindgen reads this file; the
 * declarations at the end are implemented in shim.c, which wraps DPDK's
 * static inline functions (those have no symbol to link against).
 */
#ifndef NEWIPD_FFI_H
#define NEWIPD_FFI_H

#include <stdint.h>
#include <rte_config.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>
#include <rte_lcore.h>
#include <rte_launch.h>
#include <rte_cycles.h>
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include <rte_ethdev.h>
#include <rte_ring.h>
#include <rte_telemetry.h>
#include <rte_malloc.h>
#include <rte_fib.h>
#include <rte_fib6.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>

/* Burst I/O on one queue of a port. */
uint16_t newipd_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
uint16_t newipd_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);

/* mbuf life cycle. */
struct rte_mbuf *newipd_pktmbuf_alloc(struct rte_mempool *mp);
int newipd_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **pkts, unsigned int n);
void newipd_pktmbuf_free(struct rte_mbuf *m);
void newipd_pktmbuf_free_bulk(struct rte_mbuf **pkts, unsigned int n);

/* mbuf data window. Each returns NULL (or -1) when the request does not fit. */
char *newipd_pktmbuf_adj(struct rte_mbuf *m, uint16_t len);
int newipd_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
char *newipd_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len);
char *newipd_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
void *newipd_pktmbuf_data(struct rte_mbuf *m);
uint16_t newipd_pktmbuf_data_len(const struct rte_mbuf *m);
uint32_t newipd_pktmbuf_pkt_len(const struct rte_mbuf *m);
uint16_t newipd_pktmbuf_headroom(const struct rte_mbuf *m);
uint16_t newipd_pktmbuf_tailroom(const struct rte_mbuf *m);
uint16_t newipd_mbuf_refcnt(const struct rte_mbuf *m);
uint16_t newipd_mbuf_nb_segs(const struct rte_mbuf *m);
uint16_t newipd_mbuf_port(const struct rte_mbuf *m);
/* Byte offsets of the fields the hot path reads directly (checked at start-up). */
uint32_t newipd_mbuf_off_buf_addr(void);
uint32_t newipd_mbuf_off_data_off(void);
uint32_t newipd_mbuf_off_data_len(void);
uint32_t newipd_mbuf_off_pkt_len(void);

/* The calling thread's rte_errno (a thread-local bindgen cannot bind). */
int newipd_errno(void);

/* Time. */
uint64_t newipd_rdtsc(void);

/* Lcore helpers. */
unsigned int newipd_lcore_id(void);

/* Rings of fixed-size elements (esize a multiple of 4): burst moves what fits,
 * bulk all or nothing. The SP/SC behaviour comes from the ring's creation flags. */
unsigned int newipd_ring_enqueue_burst_elem(struct rte_ring *r, const void *objs, unsigned int esize, unsigned int n, unsigned int *free_space);
unsigned int newipd_ring_dequeue_burst_elem(struct rte_ring *r, void *objs, unsigned int esize, unsigned int n, unsigned int *available);
unsigned int newipd_ring_enqueue_bulk_elem(struct rte_ring *r, const void *objs, unsigned int esize, unsigned int n, unsigned int *free_space);
unsigned int newipd_ring_dequeue_bulk_elem(struct rte_ring *r, void *objs, unsigned int esize, unsigned int n, unsigned int *available);
unsigned int newipd_ring_count(const struct rte_ring *r);

/* Ask a port for RSS over IP/UDP/TCP hashes (as far as the device offers them). */
void newipd_eth_conf_rss(struct rte_eth_conf *conf, uint64_t device_rss_offloads);

/* DPDK's route tables, for comparison with newipd's (benches/fib_compare.rs).
 * rte_lpm's lookups are static inline: the raw entries of a bulk lookup
 * (RTE_LPM_LOOKUP_SUCCESS set when found), and rte_lpm_lookupx4 (SSE / NEON)
 * over n addresses, n a multiple of 4, misses set to defv. */
int newipd_lpm_lookup_bulk(const struct rte_lpm *lpm, const uint32_t *ips, uint32_t *next_hops, unsigned int n);
void newipd_lpm_lookupx4_bulk(const struct rte_lpm *lpm, const uint32_t *ips, uint32_t *hops, unsigned int n, uint32_t defv);

#endif
