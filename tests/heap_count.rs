//! The counting allocator counts: an allocation on this thread moves the
//! counter, and another thread's allocations do not. (Integration tests rely
//! on it when they assert the packet loop made 0 allocations.)

#[global_allocator]
static ALLOC: newipd_dpdk::heap::CountingAlloc = newipd_dpdk::heap::CountingAlloc;

#[test]
fn counts_this_threads_allocations_only() {
    let before = newipd_dpdk::heap::thread_allocations().expect("installed");
    let v: Vec<u64> = std::hint::black_box(Vec::with_capacity(100));
    let after = newipd_dpdk::heap::thread_allocations().unwrap();
    assert!(after > before, "allocation not counted");
    drop(v);
    let t0 = newipd_dpdk::heap::thread_allocations().unwrap();
    std::thread::spawn(|| std::hint::black_box(vec![0u8; 1000]).len()).join().unwrap();
    let t1 = newipd_dpdk::heap::thread_allocations().unwrap();
    // Spawning and joining allocates on this thread too, but the child's vec must not
    // show: with per-thread counting the child's 1000-byte vec is on its own counter.
    let child_only = {
        let h = std::thread::spawn(|| {
            let a = newipd_dpdk::heap::thread_allocations().unwrap();
            let _v = std::hint::black_box(vec![0u8; 10]);
            newipd_dpdk::heap::thread_allocations().unwrap() - a
        });
        h.join().unwrap()
    };
    assert_eq!(child_only, 1);
    assert!(t1 >= t0);
}
