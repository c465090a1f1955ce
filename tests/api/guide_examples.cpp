// The examples of docs/guide.md (keep them identical).
#include "guide_examples.hpp"

#include <memory>
#include <string>
#include <utility>

#include <boost/asio/io_context.hpp>

namespace guide {

using namespace referkit;

// [setup]
std::unique_ptr<UserAgent> make_user_agent(boost::asio::io_context& io, std::string name, std::string host) {
    UserAgentOptions options;
    options.core.aor = "sip:" + name + "@" + host;
    options.core.contact_user = name;
    options.engine.listen = {runtime::ListenSpec{.transport = Transport::udp, .local = Endpoint{host, 0}}};
    // Calls, requests, responses ... (REFERs, their NOTIFYs and INVITEs with Replaces never arrive here).
    auto on_event = [](UserAgent& ua, const StackEvent& event) {
        if (const auto* e = std::get_if<SessionEvent>(&event); e && e->kind == SessionEventKind::incoming_call)
            (void)ua.session(e->session).answer();
    };
    auto ua = std::make_unique<UserAgent>(io, std::move(options), on_event);
    if (auto started = ua->start(); !started) return nullptr;  // started.error(): the listener and why
    return ua;
}
// [setup]

// [ood]
std::expected<Transfer, TransferError> out_of_dialog_transfer(UserAgent& ua, std::string transferee,
                                                              std::string target) {
    // New Call-ID; the 2xx (or a NOTIFY that beats it) creates the subscription's dialog.
    Transfer transfer(ua, OutOfDialog{.recipient = std::move(transferee)}, std::move(target));
    if (auto sent = transfer.refer(); !sent) return std::unexpected(sent.error());
    return transfer;
}
// [ood]

// [blind]
std::expected<Transfer, TransferError> blind_transfer(Session call, std::string_view target,
                                                      std::function<void(std::string)> print) {
    TransferHandlers handlers;
    handlers.on_refer_accepted = [print](Transfer&, const TransferEvent& e) {
        print("target answered " + std::to_string(e.status));
    };
    handlers.on_ended = [print](Transfer& t, const TransferEvent&) {
        print(std::string("transfer ended: ") + std::string(to_string(t.outcome())) + " (" +
              std::string(to_string(t.cause())) + ")");
    };
    handlers.on_any = [print](Transfer&, const TransferEvent& e) { print(std::string(e.name())); };
    // Sends the REFER now; a bad target or an unconfirmed call is an error here, nothing sent.
    return call.refer(std::string(target), TransferOptions{
                                               .refer = {.extra_headers = {"X-Reason: blind transfer"}},
                                               .handlers = std::move(handlers),
                                           });
}
// [blind]

// [attended]
std::expected<Transfer, TransferError> attended_transfer(UserAgent& ua, Session call, Session consultation,
                                                         std::function<void(std::string)> print) {
    TransferHandlers handlers;
    handlers.on_ended = [print](Transfer& t, const TransferEvent&) {
        print(std::string("attended transfer: ") + std::string(to_string(t.outcome())));
    };
    // Refer-To: <consultation's remote target?Replaces=...>, display name dropped.
    // SIP.js's form: new ReferClientContext(ua, applicant, target, options), then refer(options).
    Transfer transfer(ua, call, consultation,
                      TransferOptions{.refer = {.display_name = DisplayNamePolicy::omit}, .handlers = std::move(handlers)});
    auto sent = transfer.refer(ReferCallOptions{
        .extra_headers = {},
        .receive_response = [print](const Message& r) { print("REFER answered " + std::to_string(r.status())); },
    });
    if (!sent) return std::unexpected(sent.error());
    return transfer;
}
// [attended]

// [transferee]
UserAgentOptions transferee_options(std::string domain, std::function<void(std::string)> print) {
    UserAgentOptions options;
    options.refer.refer_policy = [domain](const ReferServerContext& ctx) {
        const std::string& uri = ctx.target().uri;
        const bool ours = uri.find("@" + domain) != std::string::npos;
        if (ours) return default_refer_policy(ctx);  // sip/sips, method INVITE
        return ReferDecision{.verdict = ReferVerdict::reject, .status = 403, .reason = "Forbidden"};
    };
    // A REFER outside a call is refused 403 unless allowed: here from our domain (From is a claim;
    // the Source gives the address it came from).
    options.refer.allow_refer_from = [domain](const Message& refer, const Source&) {
        return refer.from().uri.host == domain;
    };
    options.on_transferee = [print](UserAgent&, const TransfereeEvent& e) {
        if (e.kind == TransfereeEventKind::transfer_notified) print("told transferor " + std::to_string(e.status));
    };
    return options;
}
// [transferee]

}  // namespace guide
