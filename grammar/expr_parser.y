/* Bison grammar for pcap-filter(7) expressions, after libpcap 1.10's grammar.y.
 *
 * Same rule shapes, so the same expressions parse and the same qualifier inheritance applies:
 * `and`, `or`, `not`, `(` copy the qualifier in effect to their left ($0), and a bare operand
 * (`id`, `nid`, `qid`) takes it. Actions only build AST nodes (grammar/expr_ast.hpp) with their
 * columns; meaning (names, ranges, link types) is given in compiler/expr_gen.cpp. Pure parser, no
 * globals: state is in ExprLexer. Keywords of other link types (802.11, ATM, MTP, pf) parse into
 * nodes that the compiler rejects with libpcap's message.
 * Tested by tests/expr/ and tests/fuzz/expr_parser.cpp.
 */
%define api.pure full
%define api.prefix {expr_yy}
%define parse.error verbose
%locations
/* As libpcap: 38 shift/reduce conflicts, all from '%' and '^' having no precedence (shift wins). */
%expect 38
%param {bpf::grammar::detail::ExprLexer* lx}

%code top {
/* Bison constructs its stacks (YYINITDEPTH entries of each) on every parse; they grow by memcpy
 * when needed (the value and location types are trivially copyable: static_assert below), up
 * to YYMAXDEPTH as before, so starting small only saves the construction of unused entries. */
#define YYINITDEPTH 24
}

%code requires {
#include "grammar/expr_lexer.hpp"
}
%define api.value.type {bpf::grammar::detail::ExprValue}

%code {
#include <type_traits>
static_assert(std::is_trivially_copyable_v<EXPR_YYSTYPE> && std::is_trivially_copyable_v<EXPR_YYLTYPE>);

namespace bpf::grammar::detail {
int expr_lex(EXPR_YYSTYPE* lval, EXPR_YYLTYPE* lloc, ExprLexer* lx);
}
using bpf::grammar::detail::expr_lex;
#define expr_yylex expr_lex

namespace {
using namespace bpf::grammar;
using bpf::grammar::detail::ExprLexer;

void expr_yyerror(EXPR_YYLTYPE* loc, ExprLexer* lx, const char* msg) {
  if (lx->ast->diags.has_errors()) return;  // the lexer already said what is wrong
  std::string m = msg;
  if (m.rfind("syntax error", 0) == 0) m = "syntax error";
  // Bison says "syntax error, unexpected X, expecting Y"; libpcap says "syntax error".
  bpf::SourceLoc l{1, static_cast<uint32_t>(loc->first_column > 0 ? loc->first_column : 1),
                   static_cast<uint32_t>(loc->last_column >= loc->first_column
                                             ? loc->last_column - loc->first_column + 1 : 1)};
  lx->ast->diags.error("can't parse filter expression: " + m, l);
}

int32_t mk(ExprLexer* lx, NodeKind k, const EXPR_YYLTYPE& loc) {
  Node n;
  n.kind = k;
  n.column = static_cast<uint32_t>(loc.first_column);
  n.length = static_cast<uint32_t>(loc.last_column >= loc.first_column
                                        ? loc.last_column - loc.first_column + 1 : 1);
  lx->ast->nodes.push_back(std::move(n));
  return static_cast<int32_t>(lx->ast->nodes.size() - 1);
}
Node& nd(ExprLexer* lx, int32_t i) { return lx->ast->nodes[static_cast<size_t>(i)]; }
int32_t bin(ExprLexer* lx, NodeKind k, int32_t a, int32_t b, const EXPR_YYLTYPE& loc) {
  int32_t n = mk(lx, k, loc);
  nd(lx, n).a = a;
  nd(lx, n).b = b;
  return n;
}
int32_t id(ExprLexer* lx, IdKind k, Qual q, const EXPR_YYLTYPE& loc, int32_t s = -1,
           int32_t s2 = -1, uint32_t num = 0) {
  int32_t n = mk(lx, NodeKind::kId, loc);
  Node& x = nd(lx, n);
  x.id_kind = k;
  x.qual = q;
  if (s >= 0) x.str = lx->strings[static_cast<size_t>(s)];
  if (s2 >= 0) x.str2 = lx->strings[static_cast<size_t>(s2)];
  x.num = num;
  return n;
}
int32_t other(ExprLexer* lx, OtherKind k, const EXPR_YYLTYPE& loc, bool has = false,
              uint32_t num = 0) {
  int32_t n = mk(lx, NodeKind::kOther, loc);
  nd(lx, n).other = k;
  nd(lx, n).has_num = has;
  nd(lx, n).num = num;
  return n;
}
int32_t kw(ExprLexer* lx, OtherKind k, const EXPR_YYLTYPE& loc, const char* word) {
  int32_t n = other(lx, k, loc);
  nd(lx, n).str = word;
  return n;
}
// A value of `vpi`/`vci` (grammar.y's atmvalue); its field is set by atm_field.
int32_t atm_value(ExprLexer* lx, const EXPR_YYLTYPE& loc, char op, bool negate, uint32_t num) {
  int32_t n = other(lx, OtherKind::kAtm, loc, true, num);
  nd(lx, n).op = op;
  nd(lx, n).negate = negate;
  return n;
}
// Names the field of every value under `root` (an `or` list is walked without recursion).
int32_t atm_field(ExprLexer* lx, int32_t root, const char* field) {
  std::vector<int32_t> todo{root};
  while (!todo.empty()) {
    Node& x = nd(lx, todo.back());
    todo.pop_back();
    if (x.kind == NodeKind::kOr) {
      todo.push_back(x.a);
      todo.push_back(x.b);
    } else {
      x.str = field;
    }
  }
  return root;
}
Qual qset(int p, int d, int a) {
  return Qual{static_cast<QProto>(p), static_cast<QDir>(d), static_cast<QAddr>(a)};
}
}  // namespace
}

%token DST SRC HOST GATEWAY
%token NET NETMASK PORT PORTRANGE LESS GREATER PROTO PROTOCHAIN CBYTE
%token ARP RARP IP SCTP TCP UDP ICMP IGMP IGRP PIM VRRP CARP
%token ATALK AARP DECNET LAT SCA MOPRC MOPDL
%token TK_BROADCAST TK_MULTICAST
%token NUM INBOUND OUTBOUND
%token IFINDEX
%token PF_IFNAME PF_RSET PF_RNR PF_SRNR PF_REASON PF_ACTION
%token TYPE SUBTYPE DIR ADDR1 ADDR2 ADDR3 ADDR4 RA TA
%token LINK
%token GEQ LEQ NEQ
%token ID EID HID HID6 AID
%token LSH RSH
%token LEN
%token IPV6 ICMPV6 AH ESP
%token VLAN MPLS
%token PPPOED PPPOES GENEVE VXLAN BATADV
%token ISO ESIS CLNP ISIS L1 L2 IIH LSP SNP CSNP PSNP
%token STP
%token IPX
%token NETBEUI
%token LANE LLC METAC BCC SC ILMIC OAMF4EC OAMF4SC
%token OAM OAMF4 CONNECTMSG METACONNECT
%token VPI VCI
%token RADIO
%token MTP
%token LEX_ERROR LEX_NUMERR LEX_BADADDR

%left OR AND
%nonassoc '!'
%left '|'
%left '&'
%left LSH RSH
%left '+' '-'
%left '*' '/'
%nonassoc UMINUS
%%
prog:     null expr              { lx->ast->root = $2.node; }
        | null                   { lx->ast->root = -1; }
        ;
null:     %empty                 { $$ = EXPR_YYSTYPE{}; $$.q = kQualErr; }
        ;
expr:     term
        | expr and term          { $$ = $3; $$.node = bin(lx, NodeKind::kAnd, $1.node, $3.node, @2); }
        | expr and id            { $$ = $3; $$.node = bin(lx, NodeKind::kAnd, $1.node, $3.node, @2); }
        | expr or term           { $$ = $3; $$.node = bin(lx, NodeKind::kOr, $1.node, $3.node, @2); }
        | expr or id             { $$ = $3; $$.node = bin(lx, NodeKind::kOr, $1.node, $3.node, @2); }
        ;
and:      AND                    { $$ = $0; }
        ;
or:       OR                     { $$ = $0; }
        ;
id:       nid
        | pnum                   { $$ = EXPR_YYSTYPE{}; $$.q = $0.q; $$.node = id(lx, IdKind::kNum, $$.q, @1, -1, -1, $1.num); }
        | paren pid ')'          { $$ = $2; }
        ;
nid:      ID                     { $$ = EXPR_YYSTYPE{}; $$.q = $0.q; $$.node = id(lx, IdKind::kName, $$.q, @1, $1.str); }
        | HID '/' NUM            { $$ = EXPR_YYSTYPE{}; $$.q = $0.q; $$.node = id(lx, IdKind::kHost4Len, $$.q, @1, $1.str, -1, $3.num); }
        | HID NETMASK HID        { $$ = EXPR_YYSTYPE{}; $$.q = $0.q; $$.node = id(lx, IdKind::kHost4Mask, $$.q, @1, $1.str, $3.str); }
        | HID                    { $$ = EXPR_YYSTYPE{}; $$.q = $0.q; $$.node = id(lx, IdKind::kHost4, $$.q, @1, $1.str); }
        | HID6 '/' NUM           { $$ = EXPR_YYSTYPE{}; $$.q = $0.q; $$.node = id(lx, IdKind::kHost6Len, $$.q, @1, $1.str, -1, $3.num); }
        | HID6                   { $$ = EXPR_YYSTYPE{}; $$.q = $0.q; $$.node = id(lx, IdKind::kHost6, $$.q, @1, $1.str); }
        | EID                    { $$ = EXPR_YYSTYPE{}; $$.q = $0.q; $$.node = id(lx, IdKind::kEther, $$.q, @1, $1.str); }
        | AID                    { $$ = EXPR_YYSTYPE{}; $$.q = $0.q; $$.node = id(lx, IdKind::kArcnet, $$.q, @1, $1.str); }
        | not id                 { $$ = $2; $$.node = bin(lx, NodeKind::kNot, $2.node, -1, @1); }
        ;
not:      '!'                    { $$ = $0; }
        ;
paren:    '('                    { $$ = $0; }
        ;
pid:      nid
        | qid and id             { $$ = $3; $$.node = bin(lx, NodeKind::kAnd, $1.node, $3.node, @2); }
        | qid or id              { $$ = $3; $$.node = bin(lx, NodeKind::kOr, $1.node, $3.node, @2); }
        ;
qid:      pnum                   { $$ = EXPR_YYSTYPE{}; $$.q = $0.q; $$.node = id(lx, IdKind::kNum, $$.q, @1, -1, -1, $1.num); }
        | pid
        ;
term:     rterm
        | not term               { $$ = $2; $$.node = bin(lx, NodeKind::kNot, $2.node, -1, @1); }
        ;
head:     pqual dqual aqual      { $$ = EXPR_YYSTYPE{}; $$.q = qset($1.i, $2.i, $3.i); }
        | pqual dqual            { $$ = EXPR_YYSTYPE{}; $$.q = qset($1.i, $2.i, 0); }
        | pqual aqual            { $$ = EXPR_YYSTYPE{}; $$.q = qset($1.i, 0, $2.i); }
        | pqual PROTO            { $$ = EXPR_YYSTYPE{}; $$.q = qset($1.i, 0, int(QAddr::kProto)); }
        | pqual PROTOCHAIN       { $$ = EXPR_YYSTYPE{}; $$.q = qset($1.i, 0, int(QAddr::kProtochain)); }
        | pqual ndaqual          { $$ = EXPR_YYSTYPE{}; $$.q = qset($1.i, 0, $2.i); }
        ;
rterm:    head id                { $$ = $2; }
        | paren expr ')'         { $$ = EXPR_YYSTYPE{}; $$.node = $2.node; $$.q = $1.q; }
        | pname                  { $$ = EXPR_YYSTYPE{}; $$.q = kQualErr; $$.node = mk(lx, NodeKind::kProtoAbbrev, @1); nd(lx, $$.node).qual.proto = static_cast<QProto>($1.i); }
        | arth relop arth        { $$ = EXPR_YYSTYPE{}; $$.q = kQualErr; $$.node = bin(lx, NodeKind::kRelation, $1.node, $3.node, @2); nd(lx, $$.node).op = static_cast<char>($2.i); }
        | arth irelop arth       { $$ = EXPR_YYSTYPE{}; $$.q = kQualErr; $$.node = bin(lx, NodeKind::kRelation, $1.node, $3.node, @2); nd(lx, $$.node).op = static_cast<char>($2.i); nd(lx, $$.node).negate = true; }
        | other                  { $$ = $1; $$.q = kQualErr; }
        | atmkw                  { $$ = $1; $$.q = kQualErr; }
        ;
pqual:    pname
        | %empty                 { $$ = EXPR_YYSTYPE{}; $$.i = 0; }
        ;
dqual:    SRC                    { $$.i = int(QDir::kSrc); }
        | DST                    { $$.i = int(QDir::kDst); }
        | SRC OR DST             { $$.i = int(QDir::kOr); }
        | DST OR SRC             { $$.i = int(QDir::kOr); }
        | SRC AND DST            { $$.i = int(QDir::kAnd); }
        | DST AND SRC            { $$.i = int(QDir::kAnd); }
        | ADDR1                  { $$.i = int(QDir::kAddr1); }
        | ADDR2                  { $$.i = int(QDir::kAddr2); }
        | ADDR3                  { $$.i = int(QDir::kAddr3); }
        | ADDR4                  { $$.i = int(QDir::kAddr4); }
        | RA                     { $$.i = int(QDir::kRa); }
        | TA                     { $$.i = int(QDir::kTa); }
        ;
aqual:    HOST                   { $$.i = int(QAddr::kHost); }
        | NET                    { $$.i = int(QAddr::kNet); }
        | PORT                   { $$.i = int(QAddr::kPort); }
        | PORTRANGE              { $$.i = int(QAddr::kPortrange); }
        ;
ndaqual:  GATEWAY                { $$.i = int(QAddr::kGateway); }
        ;
pname:    LINK                   { $$.i = int(QProto::kLink); }
        | IP                     { $$.i = int(QProto::kIp); }
        | ARP                    { $$.i = int(QProto::kArp); }
        | RARP                   { $$.i = int(QProto::kRarp); }
        | SCTP                   { $$.i = int(QProto::kSctp); }
        | TCP                    { $$.i = int(QProto::kTcp); }
        | UDP                    { $$.i = int(QProto::kUdp); }
        | ICMP                   { $$.i = int(QProto::kIcmp); }
        | IGMP                   { $$.i = int(QProto::kIgmp); }
        | IGRP                   { $$.i = int(QProto::kIgrp); }
        | PIM                    { $$.i = int(QProto::kPim); }
        | VRRP                   { $$.i = int(QProto::kVrrp); }
        | CARP                   { $$.i = int(QProto::kCarp); }
        | ATALK                  { $$.i = int(QProto::kAtalk); }
        | AARP                   { $$.i = int(QProto::kAarp); }
        | DECNET                 { $$.i = int(QProto::kDecnet); }
        | LAT                    { $$.i = int(QProto::kLat); }
        | SCA                    { $$.i = int(QProto::kSca); }
        | MOPDL                  { $$.i = int(QProto::kMopdl); }
        | MOPRC                  { $$.i = int(QProto::kMoprc); }
        | IPV6                   { $$.i = int(QProto::kIpv6); }
        | ICMPV6                 { $$.i = int(QProto::kIcmpv6); }
        | AH                     { $$.i = int(QProto::kAh); }
        | ESP                    { $$.i = int(QProto::kEsp); }
        | ISO                    { $$.i = int(QProto::kIso); }
        | ESIS                   { $$.i = int(QProto::kEsis); }
        | ISIS                   { $$.i = int(QProto::kIsis); }
        | L1                     { $$.i = int(QProto::kIsisL1); }
        | L2                     { $$.i = int(QProto::kIsisL2); }
        | IIH                    { $$.i = int(QProto::kIsisIih); }
        | LSP                    { $$.i = int(QProto::kIsisLsp); }
        | SNP                    { $$.i = int(QProto::kIsisSnp); }
        | PSNP                   { $$.i = int(QProto::kIsisPsnp); }
        | CSNP                   { $$.i = int(QProto::kIsisCsnp); }
        | CLNP                   { $$.i = int(QProto::kClnp); }
        | STP                    { $$.i = int(QProto::kStp); }
        | IPX                    { $$.i = int(QProto::kIpx); }
        | NETBEUI                { $$.i = int(QProto::kNetbeui); }
        | RADIO                  { $$.i = int(QProto::kRadio); }
        ;
other:    pqual TK_BROADCAST     { $$ = EXPR_YYSTYPE{}; $$.node = other(lx, OtherKind::kBroadcast, @2); nd(lx, $$.node).qual.proto = static_cast<QProto>($1.i); }
        | pqual TK_MULTICAST     { $$ = EXPR_YYSTYPE{}; $$.node = other(lx, OtherKind::kMulticast, @2); nd(lx, $$.node).qual.proto = static_cast<QProto>($1.i); }
        | LESS NUM               { $$ = EXPR_YYSTYPE{}; $$.node = other(lx, OtherKind::kLess, @1, true, $2.num); }
        | GREATER NUM            { $$ = EXPR_YYSTYPE{}; $$.node = other(lx, OtherKind::kGreater, @1, true, $2.num); }
        | CBYTE NUM byteop NUM   { $$ = EXPR_YYSTYPE{}; $$.node = other(lx, OtherKind::kByte, @1, true, $2.num); nd(lx, $$.node).op = static_cast<char>($3.i); nd(lx, $$.node).num2 = $4.num; nd(lx, $$.node).value_column = static_cast<uint32_t>(@4.first_column); }
        | INBOUND                { $$ = EXPR_YYSTYPE{}; $$.node = other(lx, OtherKind::kInbound, @1); }
        | OUTBOUND               { $$ = EXPR_YYSTYPE{}; $$.node = other(lx, OtherKind::kOutbound, @1); }
        | IFINDEX NUM            { $$ = EXPR_YYSTYPE{}; $$.node = other(lx, OtherKind::kIfindex, @1, true, $2.num); }
        | VLAN pnum              { $$ = EXPR_YYSTYPE{}; $$.node = other(lx, OtherKind::kVlan, @1, true, $2.num); }
        | VLAN                   { $$ = EXPR_YYSTYPE{}; $$.node = other(lx, OtherKind::kVlan, @1); }
        | MPLS pnum              { $$ = EXPR_YYSTYPE{}; $$.node = other(lx, OtherKind::kMpls, @1, true, $2.num); }
        | MPLS                   { $$ = EXPR_YYSTYPE{}; $$.node = other(lx, OtherKind::kMpls, @1); }
        | PPPOED                 { $$ = EXPR_YYSTYPE{}; $$.node = other(lx, OtherKind::kPppoed, @1); }
        | PPPOES pnum            { $$ = EXPR_YYSTYPE{}; $$.node = other(lx, OtherKind::kPppoes, @1, true, $2.num); }
        | PPPOES                 { $$ = EXPR_YYSTYPE{}; $$.node = other(lx, OtherKind::kPppoes, @1); }
        | GENEVE pnum            { $$ = EXPR_YYSTYPE{}; $$.node = other(lx, OtherKind::kGeneve, @1, true, $2.num); }
        | GENEVE                 { $$ = EXPR_YYSTYPE{}; $$.node = other(lx, OtherKind::kGeneve, @1); }
        | VXLAN pnum             { $$ = EXPR_YYSTYPE{}; $$.node = other(lx, OtherKind::kVxlan, @1, true, $2.num); nd(lx, $$.node).value_column = static_cast<uint32_t>(@2.first_column); }
        | VXLAN                  { $$ = EXPR_YYSTYPE{}; $$.node = other(lx, OtherKind::kVxlan, @1); }
        | BATADV                 { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kAtm, @1, "batadv"); }
        | BATADV pnum            { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kAtm, @1, "batadv"); }
        | BATADV pnum pnum       { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kAtm, @1, "batadv"); }
        | BATADV pnum ID         { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kAtm, @1, "batadv"); }
        | PF_IFNAME ID           { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kPf, @1, "ifname"); }
        | PF_RSET ID             { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kPf, @1, "ruleset"); }
        | PF_RNR NUM             { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kPf, @1, "rnr"); }
        | PF_SRNR NUM            { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kPf, @1, "srnr"); }
        | PF_REASON NUM          { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kPf, @1, "reason"); }
        | PF_REASON ID           { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kPf, @1, "reason"); }
        | PF_ACTION ID           { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kPf, @1, "action"); }
        | pqual TYPE wtype SUBTYPE wtype { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kP80211, @2, "type"); nd(lx, $$.node).a = $3.node; nd(lx, $$.node).b = $5.node; }
        | pqual TYPE wtype       { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kP80211, @2, "type"); nd(lx, $$.node).a = $3.node; }
        | pqual SUBTYPE wtype    { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kP80211, @2, "subtype"); nd(lx, $$.node).a = $3.node; }
        | pqual DIR wtype        { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kP80211, @2, "dir"); nd(lx, $$.node).a = $3.node; }
        | LLC                    { $$ = EXPR_YYSTYPE{}; $$.node = other(lx, OtherKind::kLlc, @1); }
        | LLC ID                 { $$ = EXPR_YYSTYPE{}; $$.node = other(lx, OtherKind::kLlc, @1); nd(lx, $$.node).str = lx->strings[size_t($2.str)]; }
        | LLC PF_RNR             { $$ = EXPR_YYSTYPE{}; $$.node = other(lx, OtherKind::kLlc, @1); nd(lx, $$.node).str = "rnr"; }
        ;
// 802.11 type/subtype/direction values: an Id node (kNum or kName) as the keyword's a/b child.
wtype:    NUM                    { $$ = EXPR_YYSTYPE{}; $$.node = id(lx, IdKind::kNum, kQualErr, @1, -1, -1, $1.num); }
        | ID                     { $$ = EXPR_YYSTYPE{}; $$.node = id(lx, IdKind::kName, kQualErr, @1, $1.str); }
        ;
atmkw:    LANE                   { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kAtm, @1, "lane"); }
        | METAC                  { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kAtm, @1, "metac"); }
        | BCC                    { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kAtm, @1, "bcc"); }
        | OAMF4EC                { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kAtm, @1, "oamf4ec"); }
        | OAMF4SC                { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kAtm, @1, "oamf4sc"); }
        | SC                     { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kAtm, @1, "sc"); }
        | ILMIC                  { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kAtm, @1, "ilmic"); }
        | OAM                    { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kAtm, @1, "oam"); }
        | OAMF4                  { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kAtm, @1, "oamf4"); }
        | CONNECTMSG             { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kAtm, @1, "connectmsg"); }
        | METACONNECT            { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kAtm, @1, "metaconnect"); }
        | VPI atmval             { $$ = EXPR_YYSTYPE{}; $$.node = atm_field(lx, $2.node, "vpi"); }
        | VCI atmval             { $$ = EXPR_YYSTYPE{}; $$.node = atm_field(lx, $2.node, "vci"); }
        | MTP                    { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kAtm, @1, "mtp"); }
        | MTP atmval             { $$ = EXPR_YYSTYPE{}; $$.node = kw(lx, OtherKind::kAtm, @1, "mtp"); }
        ;
// `vpi N`, `vci > N`, `vpi (1 or 2)`: each value is an ATM node (op '=' '>' 'G', negate for
// `<=` `<` `!=`) whose field atm_field names once the keyword is reduced; a list is an `or` tree.
atmval:   NUM                    { $$ = EXPR_YYSTYPE{}; $$.node = atm_value(lx, @1, '=', false, $1.num); }
        | relop NUM              { $$ = EXPR_YYSTYPE{}; $$.node = atm_value(lx, @2, static_cast<char>($1.i), false, $2.num); }
        | irelop NUM             { $$ = EXPR_YYSTYPE{}; $$.node = atm_value(lx, @2, static_cast<char>($1.i), true, $2.num); }
        | '(' atmlist ')'        { $$ = $2; }
        ;
atmlist:  NUM                    { $$ = EXPR_YYSTYPE{}; $$.node = atm_value(lx, @1, '=', false, $1.num); }
        | atmlist or NUM         { $$ = EXPR_YYSTYPE{}; $$.node = bin(lx, NodeKind::kOr, $1.node, atm_value(lx, @3, '=', false, $3.num), @2); }
        ;
relop:    '>'                    { $$.i = '>'; }
        | GEQ                    { $$.i = 'G'; }
        | '='                    { $$.i = '='; }
        ;
irelop:   LEQ                    { $$.i = '>'; }
        | '<'                    { $$.i = 'G'; }
        | NEQ                    { $$.i = '='; }
        ;
arth:     pnum                   { $$ = EXPR_YYSTYPE{}; $$.node = mk(lx, NodeKind::kNum, @1); nd(lx, $$.node).num = $1.num; }
        | narth
        ;
narth:    pname '[' arth ']'         { $$ = EXPR_YYSTYPE{}; $$.node = bin(lx, NodeKind::kLoad, $3.node, -1, @1); nd(lx, $$.node).qual.proto = static_cast<QProto>($1.i); nd(lx, $$.node).num = 1; }
        | pname '[' arth ':' NUM ']' { $$ = EXPR_YYSTYPE{}; $$.node = bin(lx, NodeKind::kLoad, $3.node, -1, @1); nd(lx, $$.node).qual.proto = static_cast<QProto>($1.i); nd(lx, $$.node).num = $5.num; nd(lx, $$.node).num2 = static_cast<uint32_t>(@5.first_column); }
        | arth '+' arth          { $$ = EXPR_YYSTYPE{}; $$.node = bin(lx, NodeKind::kBinop, $1.node, $3.node, @2); nd(lx, $$.node).op = '+'; }
        | arth '-' arth          { $$ = EXPR_YYSTYPE{}; $$.node = bin(lx, NodeKind::kBinop, $1.node, $3.node, @2); nd(lx, $$.node).op = '-'; }
        | arth '*' arth          { $$ = EXPR_YYSTYPE{}; $$.node = bin(lx, NodeKind::kBinop, $1.node, $3.node, @2); nd(lx, $$.node).op = '*'; }
        | arth '/' arth          { $$ = EXPR_YYSTYPE{}; $$.node = bin(lx, NodeKind::kBinop, $1.node, $3.node, @2); nd(lx, $$.node).op = '/'; }
        | arth '%' arth          { $$ = EXPR_YYSTYPE{}; $$.node = bin(lx, NodeKind::kBinop, $1.node, $3.node, @2); nd(lx, $$.node).op = '%'; }
        | arth '&' arth          { $$ = EXPR_YYSTYPE{}; $$.node = bin(lx, NodeKind::kBinop, $1.node, $3.node, @2); nd(lx, $$.node).op = '&'; }
        | arth '|' arth          { $$ = EXPR_YYSTYPE{}; $$.node = bin(lx, NodeKind::kBinop, $1.node, $3.node, @2); nd(lx, $$.node).op = '|'; }
        | arth '^' arth          { $$ = EXPR_YYSTYPE{}; $$.node = bin(lx, NodeKind::kBinop, $1.node, $3.node, @2); nd(lx, $$.node).op = '^'; }
        | arth LSH arth          { $$ = EXPR_YYSTYPE{}; $$.node = bin(lx, NodeKind::kBinop, $1.node, $3.node, @2); nd(lx, $$.node).op = 'L'; }
        | arth RSH arth          { $$ = EXPR_YYSTYPE{}; $$.node = bin(lx, NodeKind::kBinop, $1.node, $3.node, @2); nd(lx, $$.node).op = 'R'; }
        | '-' arth %prec UMINUS  { $$ = EXPR_YYSTYPE{}; $$.node = bin(lx, NodeKind::kNeg, $2.node, -1, @1); }
        | paren narth ')'        { $$ = $2; }
        | LEN                    { $$ = EXPR_YYSTYPE{}; $$.node = mk(lx, NodeKind::kLen, @1); }
        ;
byteop:   '&'                    { $$.i = '&'; }
        | '|'                    { $$.i = '|'; }
        | '<'                    { $$.i = '<'; }
        | '>'                    { $$.i = '>'; }
        | '='                    { $$.i = '='; }
        ;
pnum:     NUM
        | paren pnum ')'         { $$ = $2; }
        ;
%%

namespace bpf::grammar {

namespace {
// Node storage handed back by recycle_expression (emptied), not kept past kPoolMaxNodes.
thread_local std::vector<Node> node_pool;
constexpr size_t kPoolMaxNodes = 1 << 12;
}  // namespace

void recycle_expression(ExprAst&& ast) {
  if (ast.nodes.capacity() > kPoolMaxNodes || ast.nodes.capacity() <= node_pool.capacity()) return;
  ast.nodes.clear();
  node_pool.swap(ast.nodes);
}

ExprAst parse_expression(std::string_view text) {
  ExprAst ast;
  ast.nodes.swap(node_pool);
  ast.nodes.reserve(8 + text.size() / 2);
  std::string buf(text);
  detail::ExprLexer lx;
  lx.base = lx.cur = buf.c_str();
  lx.ast = &ast;
  // An embedded NUL ends the text for the lexer; libpcap sees a C string too.
  int rc = expr_yyparse(&lx);
  if (rc != 0 || ast.diags.has_errors()) {
    if (!ast.diags.has_errors()) ast.diags.error("can't parse filter expression: syntax error");
    ast.root = -1;
  }
  ast.diags.resolve_offsets(text);  // positions are byte offsets until here (Node::column)
  ast.diags.attach_source(text);
  return ast;
}

}  // namespace bpf::grammar
