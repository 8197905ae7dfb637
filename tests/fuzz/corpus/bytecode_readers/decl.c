/* tcpdump -dd arp, as netsniff-ng keeps it */
struct sock_filter code[] = {
	{ 0x28, 0, 0, 0x0000000c }, // ldh [12]
	{ 0x15, 0, 1, 0x00000806 },
	{ 0x6, 0, 0, 0x0000ffff },
	{ 0x6, 0, 0, 0x00000000 },
};
