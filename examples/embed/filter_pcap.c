/* filter_pcap: what a libpcap application looks like on bpfc. It opens a capture with libpcap,
 * compiles the expression with bpfc_compile instead of pcap_compile, runs it with
 * bpfc_filter_run, and hands the very same program to libpcap's pcap_offline_filter (struct
 * bpfc_program has the layout of struct bpf_program) to show that the verdicts agree.
 *
 *   cc filter_pcap.c $(pkg-config --cflags --libs bpfc libpcap) -o filter_pcap
 *   ./filter_pcap capture.pcap 'tcp port 80' [engine]
 *
 * Prints "packets N accepted M disagreements D"; exit status 0 when bpfc and libpcap agree on
 * every packet, 1 when they do not, 2 on an error. Built and run against an installed bpfc by
 * tests/install/install_test.sh. */
#include <stdio.h>

#include <pcap/pcap.h>

#include <bpfc/bpfc.h>

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: %s FILE.pcap EXPRESSION [ENGINE]\n", argv[0]);
    return 2;
  }
  char pcap_err[PCAP_ERRBUF_SIZE];
  pcap_t *p = pcap_open_offline(argv[1], pcap_err);
  if (p == NULL) {
    fprintf(stderr, "%s\n", pcap_err);
    return 2;
  }

  /* pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) becomes: */
  char errbuf[BPFC_ERRBUF_SIZE];
  struct bpfc_program prog;
  if (bpfc_compile(&prog, argv[2], pcap_datalink(p), (unsigned)pcap_snapshot(p), 2, errbuf) != 0) {
    fprintf(stderr, "bpfc_compile: %s\n", errbuf);
    pcap_close(p);
    return 2;
  }
  bpfc_filter *f = bpfc_filter_new(&prog, argc == 4 ? argv[3] : NULL, BPFC_TARGET_LINUX, errbuf);
  if (f == NULL) {
    fprintf(stderr, "bpfc_filter_new: %s\n", errbuf);
    bpfc_program_free(&prog);
    pcap_close(p);
    return 2;
  }

  unsigned long packets = 0, accepted = 0, disagreements = 0;
  struct pcap_pkthdr *hdr;
  const unsigned char *data;
  int rc;
  while ((rc = pcap_next_ex(p, &hdr, &data)) == 1) {
    const unsigned int ours = bpfc_filter_run(f, data, hdr->caplen, hdr->len);
    /* The same program, run by libpcap's bpf_filter. */
    const int theirs = pcap_offline_filter((const struct bpf_program *)&prog, hdr, data);
    ++packets;
    accepted += ours != 0;
    if ((ours != 0) != (theirs != 0)) ++disagreements;
  }
  if (rc == -1) fprintf(stderr, "%s\n", pcap_geterr(p));
  printf("engine %s packets %lu accepted %lu disagreements %lu\n", bpfc_filter_engine(f), packets,
         accepted, disagreements);

  bpfc_filter_free(f);
  bpfc_program_free(&prog);
  pcap_close(p);
  if (rc == -1) return 2;
  return disagreements == 0 ? 0 : 1;
}
