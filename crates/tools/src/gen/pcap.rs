//! Reading and writing pcap files (through the pcap-file crate).

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::DataLink;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;
use std::time::Duration;

/// Write Ethernet frames with the given timestamps (ns since the epoch of the capture).
pub fn write(path: &Path, frames: &[(u64, Vec<u8>)]) -> std::io::Result<()> {
    let f = BufWriter::new(File::create(path)?);
    let header = PcapHeader { datalink: DataLink::ETHERNET, snaplen: 65535, ..Default::default() };
    let mut w = PcapWriter::with_header(f, header).map_err(io)?;
    for (ts, data) in frames {
        let p = PcapPacket::new(Duration::from_nanos(*ts), data.len() as u32, data);
        w.write_packet(&p).map_err(io)?;
    }
    Ok(())
}

/// Read every frame of a pcap file.
pub fn read(path: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let f = BufReader::new(File::open(path)?);
    let mut r = PcapReader::new(f).map_err(io)?;
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        out.push(p.map_err(io)?.data.into_owned());
    }
    Ok(out)
}

fn io(e: pcap_file::PcapError) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        let dir = std::env::temp_dir().join(format!("newipd-pcap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.pcap");
        let frames = vec![(1_000, vec![1u8, 2, 3]), (2_000, vec![4u8; 70])];
        super::write(&p, &frames).unwrap();
        let back = super::read(&p).unwrap();
        assert_eq!(back, vec![vec![1u8, 2, 3], vec![4u8; 70]]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
