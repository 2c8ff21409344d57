// Capture files (pcap, pcapng) to BGP messages: frame reader, packet decoder, TCP reassembly.
export * from './packet.ts';
export * from './pcap.ts';
export * from './reassembly.ts';
