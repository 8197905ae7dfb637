// re2c lexer for pcap-filter(7) expressions, after libpcap 1.10's scanner.l: the same keywords,
// number syntax (decimal, 0x hex, leading-0 octal, 32-bit overflow is an error), dotted IPv4
// (HID), IPv6 (HID6, validated with inet_pton), MAC addresses (EID: a:b:c:d:e:f, a-b-..., a.b...,
// aabb.ccdd.eeff, aabbccddeeff: twelve hex digits are a MAC address before a number or a name,
// as in libpcap, so `001122334455` and `aabbccddeeff` are addresses), `$`-prefixed ARCnet addresses (AID), backslash-escaped names
// (`\ip`), and the named constants (tcpflags, tcp-syn, icmp-echo, icmp6-echo, ...) that lex as
// numbers. Longest match wins, ties go to the earlier rule (as in flex). Reentrant: all state is
// in ExprLexer. Tested through tests/expr/ and tests/fuzz/expr_parser.cpp.
#include <arpa/inet.h>

#include <cstring>
#include <string>

#include "grammar/expr_lexer.hpp"
#include "expr_parser.gen.hpp"

namespace bpf::grammar::detail {

namespace {

// libpcap stou(): decimal, 0x/0X hex, leading-0 octal; returns false when over 32 bits.
bool to_number(const char* s, const char* e, uint32_t* out) {
  uint64_t base = 10, n = 0;
  if (e - s > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s += 2;
  } else if (s[0] == '0' && e - s > 1) {
    base = 8;
    s += 1;
  }
  for (; s < e; ++s) {
    int d;
    char c = *s;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return false;
    if (static_cast<uint64_t>(d) >= base) return false;
    n = n * base + static_cast<uint64_t>(d);
    if (n > 0xffffffffull) return false;
  }
  *out = static_cast<uint32_t>(n);
  return true;
}

}  // namespace

int expr_lex(EXPR_YYSTYPE* lval, EXPR_YYLTYPE* lloc, ExprLexer* lx) {
  for (;;) {
    lx->tok = lx->cur;
    const char* YYMARKER = nullptr;
    auto done = [&](int t) {
      lloc->first_line = lloc->last_line = 1;
      lloc->first_column = static_cast<int>(lx->tok - lx->base) + 1;
      lloc->last_column = static_cast<int>(lx->cur - lx->base);
      return t;
    };
    auto text = [&]() { return std::string(lx->tok, lx->cur); };
    auto num = [&](uint32_t v) {
      *lval = ExprValue{};
      lval->num = v;
      return done(NUM);
    };
    auto strtok = [&](int t, std::string s) {
      *lval = ExprValue{};
      lval->str = lx->add_string(std::move(s));
      return done(t);
    };
    auto fail = [&](std::string msg) {
      done(0);
      lx->ast->diags.error(std::move(msg),
                           SourceLoc{1, static_cast<uint32_t>(lloc->first_column),
                                     static_cast<uint32_t>(lx->cur - lx->tok)});
      return LEX_ERROR;
    };
    const char*& YYCURSOR = lx->cur;
    /*!re2c
      re2c:define:YYCTYPE = "unsigned char";
      re2c:yyfill:enable = 0;

      N = [0-9]+ | ("0x"|"0X")[0-9A-Fa-f]+;
      B = [0-9A-Fa-f][0-9A-Fa-f]?;
      B2 = [0-9A-Fa-f]{2};
      MAC = B ":" B ":" B ":" B ":" B ":" B
          | B "-" B "-" B "-" B "-" B "-" B
          | B "." B "." B "." B "." B "." B
          | B2{2} "." B2{2} "." B2{2}
          | B2{6};
      H = [0-9A-Fa-f];
      V4T = [0-9]+ "." [0-9]+ "." [0-9]+ "." [0-9]+;
      V6 = (H|":")* "::" (H|":")* ("." [0-9]+ "." [0-9]+ "." [0-9]+)?
         | (H+ ":"){7} H+ | (H+ ":"){6} V4T;

      "\x00" { return done(0); }
      [ \r\n\t]+ { continue; }

      "dst" { return done(DST); }
      "src" { return done(SRC); }
      "link"|"ether"|"ppp"|"slip" { return done(LINK); }
      "fddi"|"tr"|"wlan" { return done(LINK); }
      "arp" { return done(ARP); }
      "rarp" { return done(RARP); }
      "ip" { return done(IP); }
      "sctp" { return done(SCTP); }
      "tcp" { return done(TCP); }
      "udp" { return done(UDP); }
      "icmp" { return done(ICMP); }
      "igmp" { return done(IGMP); }
      "igrp" { return done(IGRP); }
      "pim" { return done(PIM); }
      "vrrp" { return done(VRRP); }
      "carp" { return done(CARP); }
      "radio" { return done(RADIO); }
      "ip6" { return done(IPV6); }
      "icmp6" { return done(ICMPV6); }
      "ah" { return done(AH); }
      "esp" { return done(ESP); }
      "atalk" { return done(ATALK); }
      "aarp" { return done(AARP); }
      "decnet" { return done(DECNET); }
      "lat" { return done(LAT); }
      "sca" { return done(SCA); }
      "moprc" { return done(MOPRC); }
      "mopdl" { return done(MOPDL); }
      "iso" { return done(ISO); }
      "esis"|"es-is" { return done(ESIS); }
      "isis"|"is-is" { return done(ISIS); }
      "l1" { return done(L1); }
      "l2" { return done(L2); }
      "iih" { return done(IIH); }
      "lsp" { return done(LSP); }
      "snp" { return done(SNP); }
      "csnp" { return done(CSNP); }
      "psnp" { return done(PSNP); }
      "clnp" { return done(CLNP); }
      "stp" { return done(STP); }
      "ipx" { return done(IPX); }
      "netbeui" { return done(NETBEUI); }
      "host" { return done(HOST); }
      "net" { return done(NET); }
      "mask" { return done(NETMASK); }
      "port" { return done(PORT); }
      "portrange" { return done(PORTRANGE); }
      "proto" { return done(PROTO); }
      "protochain" { return done(PROTOCHAIN); }
      "gateway" { return done(GATEWAY); }
      "type" { return done(TYPE); }
      "subtype" { return done(SUBTYPE); }
      "direction"|"dir" { return done(DIR); }
      "address1"|"addr1" { return done(ADDR1); }
      "address2"|"addr2" { return done(ADDR2); }
      "address3"|"addr3" { return done(ADDR3); }
      "address4"|"addr4" { return done(ADDR4); }
      "ra" { return done(RA); }
      "ta" { return done(TA); }
      "less" { return done(LESS); }
      "greater" { return done(GREATER); }
      "byte" { return done(CBYTE); }
      "broadcast" { return done(TK_BROADCAST); }
      "multicast" { return done(TK_MULTICAST); }
      "and"|"&&" { return done(AND); }
      "or"|"||" { return done(OR); }
      "not" { return done('!'); }
      "len"|"length" { return done(LEN); }
      "inbound" { return done(INBOUND); }
      "outbound" { return done(OUTBOUND); }
      "ifindex" { return done(IFINDEX); }
      "vlan" { return done(VLAN); }
      "mpls" { return done(MPLS); }
      "pppoed" { return done(PPPOED); }
      "pppoes" { return done(PPPOES); }
      "geneve" { return done(GENEVE); }
      "vxlan" { return done(VXLAN); }  // libpcap 1.11 (1.10 lexes it as a name)
      // libpcap 1.10 has no `batadv` keyword: it lexes as a name.
      "lane" { return done(LANE); }
      "llc" { return done(LLC); }
      "metac" { return done(METAC); }
      "bcc" { return done(BCC); }
      "oam" { return done(OAM); }
      "oamf4" { return done(OAMF4); }
      "oamf4ec" { return done(OAMF4EC); }
      "oamf4sc" { return done(OAMF4SC); }
      "sc" { return done(SC); }
      "ilmic" { return done(ILMIC); }
      "vpi" { return done(VPI); }
      "vci" { return done(VCI); }
      "connectmsg" { return done(CONNECTMSG); }
      "metaconnect" { return done(METACONNECT); }
      "on"|"ifname" { return done(PF_IFNAME); }
      "rset"|"ruleset" { return done(PF_RSET); }
      "rnr"|"rulenum" { return done(PF_RNR); }
      "srnr"|"subrulenum" { return done(PF_SRNR); }
      "reason" { return done(PF_REASON); }
      "action" { return done(PF_ACTION); }
      "fisu"|"lssu"|"msu"|"hfisu"|"hlssu"|"hmsu"|"sio"|"opc"|"dpc"|"sls"|"hsio"|"hopc"|"hdpc"|"hsls" {
        return strtok(MTP, text());
      }

      [-+*/%:[\]!<>()&|^=] { return done(static_cast<unsigned char>(*lx->tok)); }
      ">=" { return done(GEQ); }
      "<=" { return done(LEQ); }
      "!=" { return done(NEQ); }
      "==" { return done('='); }
      "<<" { return done(LSH); }
      ">>" { return done(RSH); }
      "$" B { return strtok(AID, text()); }
      MAC { return strtok(EID, text()); }
      N {
        uint32_t v = 0;
        if (!to_number(lx->tok, lx->cur, &v)) {
          return fail("number " + text() + " overflows 32 bits");
        }
        return num(v);
      }
      N "." N | N "." N "." N | N "." N "." N "." N { return strtok(HID, text()); }
      V6 {
        std::string s = text();
        in6_addr a;
        if (inet_pton(AF_INET6, s.c_str(), &a) == 1) return strtok(HID6, s);
        return fail("bogus IPv6 address " + s);
      }

      B ":"+ (B ":"+)+ { return fail("bogus ethernet address " + text()); }

      "icmptype" { return num(0); }
      "icmpcode" { return num(1); }
      "icmp-echoreply" { return num(0); }
      "icmp-unreach" { return num(3); }
      "icmp-sourcequench" { return num(4); }
      "icmp-redirect" { return num(5); }
      "icmp-echo" { return num(8); }
      "icmp-routeradvert" { return num(9); }
      "icmp-routersolicit" { return num(10); }
      "icmp-timxceed" { return num(11); }
      "icmp-paramprob" { return num(12); }
      "icmp-tstamp" { return num(13); }
      "icmp-tstampreply" { return num(14); }
      "icmp-ireq" { return num(15); }
      "icmp-ireqreply" { return num(16); }
      "icmp-maskreq" { return num(17); }
      "icmp-maskreply" { return num(18); }
      "icmp6type" { return num(0); }
      "icmp6code" { return num(1); }
      "icmp6-destinationunreach" { return num(1); }
      "icmp6-packettoobig" { return num(2); }
      "icmp6-timeexceeded" { return num(3); }
      "icmp6-parameterproblem" { return num(4); }
      "icmp6-echo" { return num(128); }
      "icmp6-echoreply" { return num(129); }
      "icmp6-multicastlistenerquery" { return num(130); }
      "icmp6-multicastlistenerreportv1" { return num(131); }
      "icmp6-multicastlistenerdone" { return num(132); }
      "icmp6-routersolicit" { return num(133); }
      "icmp6-routeradvert" { return num(134); }
      "icmp6-neighborsolicit" { return num(135); }
      "icmp6-neighboradvert" { return num(136); }
      "icmp6-redirect" { return num(137); }
      "icmp6-routerrenum" { return num(138); }
      "icmp6-nodeinformationquery" { return num(139); }
      "icmp6-nodeinformationresponse" { return num(140); }
      "icmp6-ineighbordiscoverysolicit" { return num(141); }
      "icmp6-ineighbordiscoveryadvert" { return num(142); }
      "icmp6-multicastlistenerreportv2" { return num(143); }
      "icmp6-homeagentdiscoveryrequest" { return num(144); }
      "icmp6-homeagentdiscoveryreply" { return num(145); }
      "icmp6-mobileprefixsolicit" { return num(146); }
      "icmp6-mobileprefixadvert" { return num(147); }
      "icmp6-certpathsolicit" { return num(148); }
      "icmp6-certpathadvert" { return num(149); }
      "icmp6-multicastrouteradvert" { return num(151); }
      "icmp6-multicastroutersolicit" { return num(152); }
      "icmp6-multicastrouterterm" { return num(153); }
      "tcpflags" { return num(13); }
      "tcp-fin" { return num(0x01); }
      "tcp-syn" { return num(0x02); }
      "tcp-rst" { return num(0x04); }
      "tcp-push" { return num(0x08); }
      "tcp-ack" { return num(0x10); }
      "tcp-urg" { return num(0x20); }
      "tcp-ece" { return num(0x40); }
      "tcp-cwr" { return num(0x80); }

      [A-Za-z0-9] ([-_.A-Za-z0-9]* [.A-Za-z0-9])? { return strtok(ID, text()); }
      "\\" [^ !()\n\t\x00]+ { return strtok(ID, std::string(lx->tok + 1, lx->cur)); }
      * { return fail(std::string("illegal character '") + std::string(lx->tok, lx->cur) + "'"); }
    */
  }
}

}  // namespace bpf::grammar::detail
