// Builders of NOTIFY requests for the REFER tests.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "referkit/core/message.hpp"
#include "referkit/core/time.hpp"

namespace referkit::test {

struct NotifySpec {
    std::string event = "Event: refer;id=7";          // whole header line, "" for none
    std::string sub_state = "Subscription-State: active;expires=60";
    std::string content_type = "Content-Type: message/sipfrag";
    std::string body = "SIP/2.0 100 Trying\r\n";
    std::string line_end = "\r\n";
};

inline std::string notify_text(const NotifySpec& s) {
    const std::string& e = s.line_end;
    std::string m = "NOTIFY sip:alice@192.0.2.1:5060 SIP/2.0" + e +
                    "Via: SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bK-n1" + e +
                    "Max-Forwards: 70" + e +
                    "From: <sip:bob@example.org>;tag=bt" + e +
                    "To: <sip:alice@example.com>;tag=at" + e +
                    "Call-ID: call-1@example.com" + e +
                    "CSeq: 3 NOTIFY" + e +
                    "Contact: <sip:bob@192.0.2.2>" + e;
    if (!s.event.empty()) m += s.event + e;
    if (!s.sub_state.empty()) m += s.sub_state + e;
    if (!s.content_type.empty()) m += s.content_type + e;
    m += "Content-Length: " + std::to_string(s.body.size()) + e + e + s.body;
    return m;
}

inline Message notify(const NotifySpec& s) {
    auto m = Message::parse(notify_text(s));
    if (!m) throw std::runtime_error("test NOTIFY does not parse: " + m.error().describe());
    return std::move(*m);
}

// Scripted actions of a test node: each one due at or before `now` is removed, then given to
// `run` (in the order they were scheduled; `run` may schedule more).
template <class F, class Run>
void run_due(std::vector<std::pair<Time, F>>& later, Time now, Run&& run) {
    for (std::size_t i = 0; i < later.size();) {
        if (later[i].first > now) {
            ++i;
            continue;
        }
        F f = std::move(later[i].second);
        later.erase(later.begin() + static_cast<std::ptrdiff_t>(i));
        run(f);
    }
}

}  // namespace referkit::test
