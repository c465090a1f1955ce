// One SIP dialog (RFC 3261 §12): its identifiers, the route set, the remote target and both CSeq
// spaces, as owning values. The usages that keep a dialog alive (RFC 5057) are counted by the
// Stack's dialog set (src/core/dialog/dialog_set.hpp), not here.
#pragma once
#include <compare>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "referkit/core/error.hpp"
#include "referkit/core/ids.hpp"
#include "referkit/core/message.hpp"
#include "referkit/core/writer.hpp"

namespace referkit {

// What a dialog holds (RFC 3261 §12.1). URIs are kept as text, name-addrs as "<uri>" or
// "display <uri>" without tag.
struct DialogInfo {
    std::string call_id{};
    std::string local_tag{};
    std::string remote_tag{};
    std::string local_uri{};      // From of our requests (name-addr without tag)
    std::string remote_uri{};     // To of our requests (name-addr without tag)
    std::string remote_target{};  // Request-URI of our requests (§12.1.1: the peer's Contact URI)
    std::vector<std::string> route_set{};  // Route URIs in the order our requests list them
    std::uint32_t local_cseq = 0;        // CSeq of the last request we sent
    std::optional<std::uint32_t> remote_cseq{};  // CSeq of the last request received; none yet
    bool secure = false;  // §12.1.1: sips Request-URI
    bool early = true;    // from a 1xx; false once confirmed by a 2xx
};

// The first line and Route headers of a request in the dialog (§12.2.1.1).
struct DialogRouting {
    std::string request_uri{};
    std::vector<std::string> routes{};  // Route header values ("<uri>"), in order
    std::string next_hop_uri{};         // where to send: the first Route's URI, else the Request-URI
};

// The fields of a request we sent that a UAC dialog is made from (§12.1.2), as owning text: for
// requests kept as bytes rather than parsed. local_uri/remote_uri are name-addrs without tag.
struct DialogRequestFields {
    std::string call_id{};
    std::string local_tag{};
    std::string local_uri{};
    std::string remote_uri{};
    std::string request_uri{};
    std::uint32_t cseq = 0;
};

class Dialog {
public:
    // UAC side (§12.1.2): `request` is the request we sent (From, To, Call-ID, CSeq, Request-URI),
    // `response` a 1xx (early) or 2xx (confirmed) to it carrying a To tag. Route set = the
    // response's Record-Route reversed; remote target = its Contact. Errors: a Record-Route or
    // Contact that does not parse, or no To tag (bad_name_addr).
    [[nodiscard]] static std::expected<Dialog, ParseError> as_uac(const Message& request, const Message& response);
    // The same from the owning fields of the request we sent.
    [[nodiscard]] static std::expected<Dialog, ParseError> as_uac(const DialogRequestFields& request,
                                                                  const Message& response);
    // UAS side (§12.1.1): `request` is the dialog-creating request received, `local_tag` the To tag
    // our responses carry. Route set = Record-Route in order; remote target = Contact; remote CSeq =
    // the request's. Errors as for as_uac.
    [[nodiscard]] static std::expected<Dialog, ParseError> as_uas(const Message& request, std::string_view local_tag);

    [[nodiscard]] const DialogInfo& info() const noexcept { return info_; }

    // §12.2.2: true (and the remote CSeq is remembered) when `cseq` is higher than the last one
    // received; false when lower or equal: the caller answers 500 (not for ACK and CANCEL).
    [[nodiscard]] bool accept_remote_cseq(std::uint32_t cseq) noexcept;
    // The CSeq of the next request we send (§12.2.1.1: local CSeq plus one), remembered.
    [[nodiscard]] std::uint32_t next_local_cseq() noexcept { return ++info_.local_cseq; }
    void set_local_cseq(std::uint32_t cseq) noexcept { info_.local_cseq = cseq; }
    // Target refresh (§12.2): the remote target becomes the message's Contact URI (no change when
    // it has none or it does not parse).
    void refresh_target(const Message& message);
    // A 2xx confirmed the dialog (§12.1.2); for a UAC the route set is recomputed from it
    // (§12.2.1.2: the 2xx's Record-Route wins over the 1xx's).
    void confirm(const Message* response_2xx);

    // §12.2.1.1: loose routing (first route has lr) keeps the remote target as Request-URI; strict
    // routing puts the first route there and the remote target last in Route.
    [[nodiscard]] DialogRouting routing() const;
    // A request in this dialog (§12.2.1.1): Request-URI, Route, From, To, Call-ID, CSeq (`cseq`,
    // with `method`) and Max-Forwards 70 filled in; the caller adds the other headers and the body.
    [[nodiscard]] OutgoingRequest request(std::string_view method, std::uint32_t cseq) const;
    [[nodiscard]] std::string from_value() const;
    [[nodiscard]] std::string to_value() const;

private:
    DialogInfo info_;
};

// "<uri>" or "display <uri>" of a parsed name-addr (parameters and tag dropped).
[[nodiscard]] std::string name_addr_without_params(const NameAddr& na);

}  // namespace referkit
