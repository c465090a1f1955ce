#include "timeline.hpp"

#include <cctype>
#include <cstdio>

#include "referkit/core/digest.hpp"

namespace referkit::cli {

Timeline::Timeline(std::ostream& out, bool json, bool quiet, std::function<long long()> clock)
    : out_(out), json_(json), quiet_(quiet), start_(std::chrono::steady_clock::now()), clock_(std::move(clock)) {}

long long Timeline::elapsed_ms() const {
    if (clock_) return clock_();
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start_).count();
}

void Timeline::flush_repeats(long long now_ms) {
    for (auto it = repeats_.begin(); it != repeats_.end();) {
        Repeat& r = it->second;
        if (r.suppressed != 0) {
            const std::string summary = r.event + " repeated " + std::to_string(r.suppressed) + " more time" +
                                        (r.suppressed == 1 ? "" : "s") + " within " + std::to_string(kRepeatWindow) +
                                        " ms (" + std::to_string(kRepeatFree) + " printed)";
            nlohmann::ordered_json j{{"t_ms", now_ms}, {"ua", r.ua},       {"event", "repeated"},
                                     {"of", r.event},  {"count", r.suppressed}, {"summary", summary}};
            char head[96];
            std::snprintf(head, sizeof head, "%6lld ms  %-7.*s %-22s ", now_ms, static_cast<int>(r.ua.size()),
                          r.ua.data(), "repeated");
            write(j, head + summary);
            r.suppressed = 0;
        }
        it = now_ms - r.window_ms >= kRepeatWindow ? repeats_.erase(it) : std::next(it);
    }
}

void Timeline::write(const nlohmann::ordered_json& j, std::string_view text) {
    if (json_) {
        out_ << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
    } else {
        out_ << text << std::endl;
    }
}

void Timeline::event(std::string_view ua, std::string_view event, int status, std::string_view reason,
                     std::string_view summary) {
    if (quiet_) return;
    const long long ms = elapsed_ms();
    const std::string status_text = std::to_string(status);
    std::string key;
    for (std::string_view part : {ua, event, std::string_view(status_text), reason, summary})
        key.append(part).push_back('\n');
    if (auto it = repeats_.find(key); it != repeats_.end() && ms - it->second.window_ms < kRepeatWindow &&
                                      it->second.printed >= kRepeatFree) {
        ++it->second.suppressed;
        return;
    }
    flush_repeats(ms);
    if (repeats_.size() >= kMaxRepeatKeys) repeats_.clear();  // many different lines: nothing repeats
    Repeat& r = repeats_[key];
    if (r.printed == 0 || ms - r.window_ms >= kRepeatWindow)
        r = Repeat{.ua = std::string(ua), .event = std::string(event), .window_ms = ms, .printed = 0, .suppressed = 0};
    ++r.printed;
    nlohmann::ordered_json j{{"t_ms", ms}, {"ua", ua}, {"event", event}};
    if (status != 0) j["status"] = status;
    if (!reason.empty()) j["reason"] = reason;
    if (!summary.empty()) j["summary"] = summary;
    char head[96];
    std::snprintf(head, sizeof head, "%6lld ms  %-7.*s %-22.*s ", ms, static_cast<int>(ua.size()), ua.data(),
                  static_cast<int>(event.size()), event.data());
    std::string text = head;
    if (status != 0) text += std::to_string(status) + " " + std::string(reason) + "  ";
    text += summary;
    write(j, text);
}

void Timeline::outcome(std::string_view ua, std::string_view outcome, std::string_view cause, int exit_code,
                       std::string_view summary) {
    const long long ms = elapsed_ms();
    flush_repeats(ms);
    nlohmann::ordered_json j{{"t_ms", ms}, {"ua", ua},           {"event", "outcome"}, {"outcome", outcome},
                             {"cause", cause}, {"exit", exit_code}, {"summary", summary}};
    char head[64];
    std::snprintf(head, sizeof head, "%6lld ms  ", ms);
    write(j, std::string(head) + "outcome: " + std::string(outcome) + " (" + std::string(cause) + "), exit " +
                 std::to_string(exit_code) + " — " + std::string(summary));
}

void Timeline::always(std::string_view ua, std::string_view event, std::string_view summary,
                      nlohmann::ordered_json extra) {
    nlohmann::ordered_json j{{"t_ms", elapsed_ms()}, {"ua", ua}, {"event", event}};
    if (extra.is_object())
        for (auto it = extra.begin(); it != extra.end(); ++it) j[it.key()] = it.value();
    j["summary"] = summary;
    write(j, std::string(event) + " " + std::string(summary));
}

bool run_until(boost::asio::io_context& io, const std::function<bool()>& pred, Deadline deadline,
               const std::function<bool()>& stop) {
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        if (stop && stop()) return false;
        io.run_for(std::chrono::milliseconds(5));
        if (io.stopped()) io.restart();
    }
    return true;
}


void print_transfer_event(Timeline& t, std::string_view ua, const TransferEvent& e) {
    std::string summary;
    switch (e.kind) {
        case ReferEventKind::refer_request_accepted: summary = "REFER accepted by the transferee"; break;
        case ReferEventKind::refer_request_rejected: summary = "REFER refused (or no answer)"; break;
        case ReferEventKind::refer_progress: summary = "NOTIFY: the transferee's call to the target is in progress"; break;
        case ReferEventKind::refer_accepted: summary = "NOTIFY: the target answered the transferee"; break;
        case ReferEventKind::refer_rejected: summary = "NOTIFY: the target refused the transferee"; break;
        case ReferEventKind::notify:
            summary = "NOTIFY answered 200";
            if (!e.note.empty()) summary += " (a peer's mistake let pass: " + e.note + ")";
            break;
        case ReferEventKind::ended:
            summary = "transfer ended: " + std::string(to_string(e.outcome)) + " (" + std::string(to_string(e.cause)) +
                      ")" + (e.hang_up ? ", hanging up the transferred call" : "");
            break;
    }
    const bool sipfrag_event = e.kind == ReferEventKind::refer_progress || e.kind == ReferEventKind::refer_accepted ||
                               e.kind == ReferEventKind::refer_rejected || e.kind == ReferEventKind::refer_request_accepted ||
                               e.kind == ReferEventKind::refer_request_rejected;
    t.event(ua, e.name(), sipfrag_event ? e.status : 0, sipfrag_event ? std::string_view(e.reason) : std::string_view(),
            summary);
}

void print_session_event(Timeline& t, std::string_view ua, const SessionEvent& e) {
    std::string summary;
    std::string peer;
    if (e.message && e.message->is_request()) peer = std::string(e.message->from().uri.text);
    switch (e.kind) {
        case SessionEventKind::incoming_call: summary = "incoming call from " + peer; break;
        case SessionEventKind::session_progress: summary = "ringing/progress"; break;
        case SessionEventKind::session_answered: summary = "call answered"; break;
        case SessionEventKind::session_confirmed: summary = "call confirmed (2xx + ACK)"; break;
        case SessionEventKind::session_ended: summary = "call ended: " + std::string(to_string(e.cause)); break;
        case SessionEventKind::offer_received:
        case SessionEventKind::answer_received:
        case SessionEventKind::reinvite_failed: return;  // not part of the call timeline
    }
    t.event(ua, to_string(e.kind),
            e.kind == SessionEventKind::session_ended || e.kind == SessionEventKind::session_progress ? e.status : 0, {},
            summary);
}

void print_transferee_event(Timeline& t, std::string_view ua, const TransfereeEvent& e) {
    std::string summary;
    switch (e.kind) {
        case TransfereeEventKind::refer_received:
            summary = (e.status < 300 ? "REFER accepted, target " : "REFER refused, target ") + e.target;
            break;
        case TransfereeEventKind::transfer_started: summary = "calling the transfer target"; break;
        case TransfereeEventKind::transfer_notified: summary = "told the transferor the call's status"; break;
        case TransfereeEventKind::transfer_ended:
            summary = "transfer over (" + std::string(to_string(e.cause)) + ")";
            break;
        case TransfereeEventKind::replaced: summary = "INVITE with Replaces accepted: the old call is replaced"; break;
        case TransfereeEventKind::replace_rejected: summary = "INVITE with Replaces refused"; break;
    }
    t.event(ua, to_string(e.kind), e.status, {}, summary);
}

namespace {
bool starts_with_nocase(std::string_view line, std::string_view prefix) {
    if (line.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(line[i])) != prefix[i]) return false;
    return true;
}
}  // namespace

std::string masked_message(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    bool in_body = false, started = false;  // CRLFs before the start line are not the header end (§7.5)
    while (!bytes.empty()) {
        const std::size_t nl = bytes.find('\n');
        std::string_view line = bytes.substr(0, nl);
        bytes = nl == std::string_view::npos ? std::string_view{} : bytes.substr(nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!in_body) {
            if (line.empty() && started) in_body = true;
            if (!line.empty()) started = true;
            for (std::string_view name : {std::string_view("authorization"), std::string_view("proxy-authorization")}) {
                if (!starts_with_nocase(line, name)) continue;
                std::string_view rest = line.substr(name.size());
                const std::size_t colon = rest.find(':');
                if (colon == std::string_view::npos || rest.substr(0, colon).find_first_not_of(" \t") != std::string_view::npos)
                    continue;
                // The value with its folded continuation lines (RFC 3261 §7.3.1), masked whole.
                std::string value(rest.substr(colon + 1));
                while (!bytes.empty() && (bytes.front() == ' ' || bytes.front() == '\t')) {
                    const std::size_t next = bytes.find('\n');
                    std::string_view cont = bytes.substr(0, next);
                    bytes = next == std::string_view::npos ? std::string_view{} : bytes.substr(next + 1);
                    if (!cont.empty() && cont.back() == '\r') cont.remove_suffix(1);
                    value += ' ';
                    value += cont.substr(cont.find_first_not_of(" \t") == std::string_view::npos ? cont.size() : cont.find_first_not_of(" \t"));
                }
                out.append(line.substr(0, name.size() + colon + 1));
                out += ' ';
                out += mask_credentials(value);
                line = {};
                break;
            }
        }
        out.append(line);
        out += '\n';
    }
    return out;
}

std::function<void(runtime::TraceDirection, Transport, const Endpoint&, std::string_view)>
message_tracer(const Timeline& t, std::ostream& err, std::string ua) {
    return [&t, &err, ua = std::move(ua)](runtime::TraceDirection d, Transport tr, const Endpoint& peer,
                                          std::string_view bytes) {
        const bool sent = d == runtime::TraceDirection::sent;
        err << "---- " << t.elapsed_ms() << " ms  " << ua << (sent ? " sent to " : " received from ")
            << transport_name(tr) << ":" << runtime::format_hostport(peer) << " (" << bytes.size() << " bytes)\n"
            << masked_message(bytes) << std::flush;
    };
}

}  // namespace referkit::cli
