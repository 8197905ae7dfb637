/* <bpfc/bpfc.h> compiled as strict C99 (-std=c99 -pedantic -Werror, tests/api/CMakeLists.txt):
 * the header is valid C and the API works from C. Called by c_api_test.cpp. */
#include "bpfc/bpfc.h"

#include <string.h>

int bpfc_c99_smoke(char *errbuf) {
  struct bpfc_program prog;
  const unsigned char arp[42] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0x08, 0x06};
  bpfc_filter *f;
  unsigned int v;
  if (bpfc_compile(&prog, "arp", 1, 96, 1, errbuf) != 0) return -1;
  f = bpfc_filter_new(&prog, NULL, BPFC_TARGET_LINUX, errbuf);
  bpfc_program_free(&prog);
  if (f == NULL) return -1;
  v = bpfc_filter_run(f, arp, sizeof arp, sizeof arp);
  bpfc_filter_free(f);
  if (v != 96) {
    strcpy(errbuf, "arp filter did not return 96 from C");
    return -1;
  }
  return 0;
}
