// Dialog (RFC 3261 §12): creation on both sides, route sets, CSeq rules, target refresh, routing.
#include <gtest/gtest.h>

#include <string>

#include "referkit/core/dialog.hpp"

namespace referkit {
namespace {

Message parse(std::string text) {
    auto m = Message::parse(std::string_view(text));
    EXPECT_TRUE(m) << (m ? "" : m.error().describe());
    return *m;
}

const char* invite =
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8\r\n"
    "Max-Forwards: 70\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
    "Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>\r\n"
    "Content-Length: 0\r\n\r\n";

std::string response(int status, const std::string& extra) {
    return "SIP/2.0 " + std::to_string(status) +
           " X\r\n"
           "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8\r\n"
           "To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
           "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
           "Call-ID: a84b4c76e66710\r\n"
           "CSeq: 314159 INVITE\r\n" +
           extra + "Content-Length: 0\r\n\r\n";
}

TEST(Dialog, UacFromA2xxReversesTheRouteSet) {
    Message req = parse(invite);
    Message ok = parse(response(200, "Contact: <sip:bob@192.0.2.4>\r\n"
                                     "Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>\r\n"));
    auto d = Dialog::as_uac(req, ok);
    ASSERT_TRUE(d);
    const DialogInfo& i = d->info();
    EXPECT_EQ(i.call_id, "a84b4c76e66710");
    EXPECT_EQ(i.local_tag, "1928301774");
    EXPECT_EQ(i.remote_tag, "a6c85cf");
    EXPECT_EQ(i.local_uri, "Alice <sip:alice@atlanta.example.com>");
    EXPECT_EQ(i.remote_uri, "Bob <sip:bob@biloxi.example.com>");
    EXPECT_EQ(i.remote_target, "sip:bob@192.0.2.4");
    EXPECT_EQ(i.route_set, (std::vector<std::string>{"sip:p1.example.com;lr", "sip:p2.example.com;lr"}));
    EXPECT_EQ(i.local_cseq, 314159u);
    EXPECT_FALSE(i.remote_cseq);
    EXPECT_FALSE(i.early);
    EXPECT_FALSE(i.secure);
}

TEST(Dialog, UacFromFieldsEqualsUacFromMessage) {
    Message req = parse(invite);
    Message ok = parse(response(200, "Contact: <sip:bob@192.0.2.4>\r\n"));
    auto a = Dialog::as_uac(req, ok);
    auto b = Dialog::as_uac(DialogRequestFields{.call_id = "a84b4c76e66710", .local_tag = "1928301774",
                                                .local_uri = "Alice <sip:alice@atlanta.example.com>",
                                                .remote_uri = "Bob <sip:bob@biloxi.example.com>",
                                                .request_uri = "sips:bob@biloxi.example.com", .cseq = 314159},
                            ok);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->to_value(), b->to_value());
    EXPECT_EQ(a->from_value(), b->from_value());
    EXPECT_EQ(a->info().remote_target, b->info().remote_target);
    EXPECT_TRUE(b->info().secure);  // §12.1.2: a sips Request-URI
}

TEST(Dialog, EarlyFrom1xxThen2xxRouteSetWins) {
    Message req = parse(invite);
    Message ringing = parse(response(180, "Contact: <sip:bob@192.0.2.4>\r\nRecord-Route: <sip:old.example.com;lr>\r\n"));
    auto d = Dialog::as_uac(req, ringing);
    ASSERT_TRUE(d);
    EXPECT_TRUE(d->info().early);
    Message ok = parse(response(200, "Contact: <sip:bob@192.0.2.5>\r\nRecord-Route: <sip:new.example.com;lr>\r\n"));
    d->confirm(&ok);
    EXPECT_FALSE(d->info().early);
    EXPECT_EQ(d->info().route_set, (std::vector<std::string>{"sip:new.example.com;lr"}));
    EXPECT_EQ(d->info().remote_target, "sip:bob@192.0.2.5");
}

TEST(Dialog, NoToTagNoDialog) {
    Message req = parse(invite);
    std::string r = response(180, "");
    r.replace(r.find(";tag=a6c85cf"), 12, "");
    EXPECT_FALSE(Dialog::as_uac(req, parse(r)));
}

TEST(Dialog, UasKeepsTheRouteSetInOrderAndTheRemoteCSeq) {
    Message req = parse(invite);
    auto d = Dialog::as_uas(req, "uas-tag");
    ASSERT_TRUE(d);
    const DialogInfo& i = d->info();
    EXPECT_EQ(i.local_tag, "uas-tag");
    EXPECT_EQ(i.remote_tag, "1928301774");
    EXPECT_EQ(i.remote_target, "sip:alice@pc33.atlanta.example.com");
    EXPECT_EQ(i.route_set, (std::vector<std::string>{"sip:p2.example.com;lr", "sip:p1.example.com;lr"}));
    EXPECT_EQ(i.remote_cseq, 314159u);
    EXPECT_EQ(i.local_cseq, 0u);
    EXPECT_EQ(d->from_value(), "Bob <sip:bob@biloxi.example.com>;tag=uas-tag");
    EXPECT_EQ(d->to_value(), "Alice <sip:alice@atlanta.example.com>;tag=1928301774");
}

TEST(Dialog, RemoteCSeqMustIncrease) {
    auto d = Dialog::as_uas(parse(invite), "t");
    ASSERT_TRUE(d);
    EXPECT_FALSE(d->accept_remote_cseq(314159));  // equal: §12.2.2 500
    EXPECT_FALSE(d->accept_remote_cseq(3));       // lower
    EXPECT_TRUE(d->accept_remote_cseq(314160));
    EXPECT_EQ(d->info().remote_cseq, 314160u);
    EXPECT_EQ(d->next_local_cseq(), 1u);
    EXPECT_EQ(d->next_local_cseq(), 2u);
}

TEST(Dialog, TargetRefresh) {
    auto d = Dialog::as_uas(parse(invite), "t");
    ASSERT_TRUE(d);
    std::string reinvite(invite);
    reinvite.replace(reinvite.find("<sip:alice@pc33.atlanta.example.com>"), 36, "<sip:alice@198.51.100.7:5070>");
    d->refresh_target(parse(reinvite));
    EXPECT_EQ(d->info().remote_target, "sip:alice@198.51.100.7:5070");
}

TEST(Dialog, LooseRoutingKeepsTheTargetAsRequestUri) {
    auto d = Dialog::as_uas(parse(invite), "t");
    ASSERT_TRUE(d);
    DialogRouting r = d->routing();
    EXPECT_EQ(r.request_uri, "sip:alice@pc33.atlanta.example.com");
    EXPECT_EQ(r.routes, (std::vector<std::string>{"<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"}));
    EXPECT_EQ(r.next_hop_uri, "sip:p2.example.com;lr");
}

TEST(Dialog, StrictRoutingPutsTheFirstRouteInTheRequestUri) {
    std::string req(invite);
    req.replace(req.find("<sip:p2.example.com;lr>, <sip:p1.example.com;lr>"), 48,
                "<sip:strict.example.com>, <sip:p1.example.com;lr>");
    auto d = Dialog::as_uas(parse(req), "t");
    ASSERT_TRUE(d);
    DialogRouting r = d->routing();
    EXPECT_EQ(r.request_uri, "sip:strict.example.com");  // §12.2.1.1
    EXPECT_EQ(r.routes, (std::vector<std::string>{"<sip:p1.example.com;lr>", "<sip:alice@pc33.atlanta.example.com>"}));
    EXPECT_EQ(r.next_hop_uri, "sip:strict.example.com");
}

// (Named after the writer it used before requests became fields: Dialog::request.)
TEST(Dialog, StartRequestWritesTheDialogFields) {
    auto d = Dialog::as_uas(parse(invite), "uas-tag");
    ASSERT_TRUE(d);
    std::string text;
    // Written with a Via in front, as the transaction layer does.
    ASSERT_TRUE(write_request(d->request("INFO", 7), "SIP/2.0/UDP h;branch=z9hG4bKx", text));
    Message m = parse(text);
    EXPECT_EQ(m.method(), Method::info);
    EXPECT_EQ(m.request_uri().text, "sip:alice@pc33.atlanta.example.com");
    EXPECT_EQ(m.max_forwards(), 70u);
    EXPECT_EQ(m.cseq().number, 7u);
    EXPECT_EQ(m.from().tag, "uas-tag");
    EXPECT_EQ(m.to().tag, "1928301774");
    EXPECT_EQ(m.call_id(), "a84b4c76e66710");
    EXPECT_EQ(m.count(HeaderId::route), 2u);
}

}  // namespace
}  // namespace referkit
