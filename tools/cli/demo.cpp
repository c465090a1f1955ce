// `referkit demo`: today it can only show the message layer — it builds the messages of an
// attended transfer, parses them back and reads the NOTIFY sipfrags. It says plainly that no call
// is placed and no transfer happens until the transaction, transport and REFER layers exist.
#include "demo.hpp"

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "referkit/core/message.hpp"
#include "referkit/core/sipfrag.hpp"
#include "referkit/core/writer.hpp"

namespace referkit::cli {
namespace {

class Timeline {
public:
    Timeline(std::ostream& out, bool json) : out_(out), json_(json), start_(std::chrono::steady_clock::now()) {}
    void step(std::string_view event, std::string_view summary) {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start_).count();
        if (json_) {
            out_ << nlohmann::ordered_json{{"t_ms", ms}, {"event", event}, {"summary", summary}}.dump() << "\n";
        } else {
            char head[48];
            std::snprintf(head, sizeof head, "%6lld ms  %-22.*s ", static_cast<long long>(ms), static_cast<int>(event.size()), event.data());
            out_ << head << summary << "\n";
        }
    }

private:
    std::ostream& out_;
    bool json_;
    std::chrono::steady_clock::time_point start_;
};

}  // namespace

int run_demo(std::ostream& out, bool json_lines) {
    Timeline t(out, json_lines);
    // The REFER an attended transfer sends: Replaces names the consultation call, escaped.
    std::string replaces = "consult-7f3a@192.0.2.10;to-tag=carol-1;from-tag=alice-2";
    std::string refer_to = "<sip:carol@192.0.2.30?Replaces=" + percent_encode(replaces) + ">";
    auto refer = MessageWriter::request("REFER", "sip:bob@192.0.2.20")
                     .header(HeaderId::via, "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-demo-1;rport")
                     .header(HeaderId::max_forwards, 70)
                     .header(HeaderId::from, "<sip:alice@192.0.2.10>;tag=alice-1")
                     .header(HeaderId::to, "<sip:bob@192.0.2.20>;tag=bob-1")
                     .header(HeaderId::call_id, "call-1f9c@192.0.2.10")
                     .header(HeaderId::cseq, "2 REFER")
                     .header(HeaderId::contact, "<sip:alice@192.0.2.10:5060>")
                     .header(HeaderId::refer_to, refer_to)
                     .header(HeaderId::referred_by, "<sip:alice@192.0.2.10>")
                     .header(HeaderId::supported, "replaces, norefersub")
                     .finish();
    if (!refer) {
        t.step("error", "could not build the REFER: " + refer.error().what);
        return 1;
    }
    t.step("build", "REFER sip:bob@192.0.2.20 (" + std::to_string(refer->size()) + " bytes)");
    auto parsed = Message::parse(*refer);
    if (!parsed) {
        t.step("error", "REFER did not parse: " + parsed.error().describe());
        return 1;
    }
    auto target = parsed->refer_to();
    if (!target) {
        t.step("error", "Refer-To did not parse: " + target.error().describe());
        return 1;
    }
    auto embedded = target->uri.header("Replaces");
    t.step("parse", "Refer-To " + std::string(target->uri.text));
    t.step("parse", "embedded Replaces = " + (embedded ? percent_decode(*embedded) : std::string("(none)")));
    for (std::string_view frag : {std::string_view("SIP/2.0 100 Trying\r\n"), std::string_view("SIP/2.0 200 OK\r\n")}) {
        auto f = parse_sipfrag(frag);
        if (!f) {
            t.step("error", "sipfrag did not parse: " + f.error().describe());
            return 1;
        }
        std::string_view would = f->status < 200 ? "referProgress" : f->status < 300 ? "referAccepted" : "referRejected";
        t.step("sipfrag", std::to_string(f->status) + " " + std::string(f->reason) + " (the event it maps to: " + std::string(would) + ")");
    }
    t.step("not-built-yet",
           "transactions, transports, dialogs, INVITE sessions and the REFER client/server do not exist yet: "
           "no call was placed and no transfer happened");
    return 0;
}

}  // namespace referkit::cli
