#include "referkit/core/dialog.hpp"

#include <algorithm>

namespace referkit {

std::string name_addr_without_params(const NameAddr& na) {
    std::string s;
    if (!na.display_name.empty()) {
        s.append(na.display_name);
        s.push_back(' ');
    }
    s.push_back('<');
    s.append(na.uri.text);
    s.push_back('>');
    return s;
}

namespace {

std::expected<std::vector<std::string>, ParseError> record_route(const Message& m) {
    std::vector<std::string> out;
    if (m.count(HeaderId::record_route) == 0) return out;
    auto rr = m.name_addrs(HeaderId::record_route);
    if (!rr) return std::unexpected(rr.error());
    for (const NameAddr& na : *rr) out.emplace_back(na.uri.text);
    return out;
}

// The first Contact URI, or "" when there is none (§12.1.1/§12.1.2 require one; a peer that omits
// it is tolerated by keeping the previous target).
std::expected<std::string, ParseError> contact_uri(const Message& m) {
    if (m.count(HeaderId::contact) == 0) return std::string{};
    auto c = m.contacts();
    if (!c) return std::unexpected(c.error());
    if (c->is_star || c->entries.empty()) return std::string{};
    return std::string(c->entries.front().uri.text);
}

bool has_lr(std::string_view uri_text) {
    auto u = parse_uri(uri_text, UriContext::name_addr);
    return u && u->params.contains("lr");
}

}  // namespace

std::expected<Dialog, ParseError> Dialog::as_uac(const Message& request, const Message& response) {
    return as_uac(DialogRequestFields{.call_id = std::string(request.call_id()),
                                      .local_tag = std::string(request.from().tag),
                                      .local_uri = name_addr_without_params(request.from()),
                                      .remote_uri = name_addr_without_params(request.to()),
                                      .request_uri = std::string(request.request_uri().text),
                                      .cseq = request.cseq().number},
                  response);
}

std::expected<Dialog, ParseError> Dialog::as_uac(const DialogRequestFields& request, const Message& response) {
    if (response.to().tag.empty())
        return std::unexpected(ParseError{ErrorCode::bad_name_addr, 0, 400, "a dialog needs a To tag"});
    Dialog d;
    DialogInfo& i = d.info_;
    i.call_id = request.call_id;
    i.local_tag = request.local_tag;
    i.remote_tag = std::string(response.to().tag);
    i.local_uri = request.local_uri;
    i.remote_uri = request.remote_uri;
    i.local_cseq = request.cseq;
    auto ru = parse_uri(request.request_uri, UriContext::request_uri);
    i.secure = ru && ru->scheme == Scheme::sips;  // §12.1.2
    i.early = response.status() < 200;
    auto rr = record_route(response);
    if (!rr) return std::unexpected(rr.error());
    std::reverse(rr->begin(), rr->end());  // §12.1.2: reversed for the UAC
    i.route_set = std::move(*rr);
    auto target = contact_uri(response);
    if (!target) return std::unexpected(target.error());
    i.remote_target = target->empty() ? request.request_uri : std::move(*target);
    return d;
}

std::expected<Dialog, ParseError> Dialog::as_uas(const Message& request, std::string_view local_tag) {
    Dialog d;
    DialogInfo& i = d.info_;
    i.call_id = std::string(request.call_id());
    i.local_tag = std::string(local_tag);
    i.remote_tag = std::string(request.from().tag);
    i.local_uri = name_addr_without_params(request.to());
    i.remote_uri = name_addr_without_params(request.from());
    i.remote_cseq = request.cseq().number;
    i.local_cseq = 0;
    i.secure = request.request_uri().scheme == Scheme::sips;  // §12.1.1
    i.early = true;
    auto rr = record_route(request);  // §12.1.1: in order for the UAS
    if (!rr) return std::unexpected(rr.error());
    i.route_set = std::move(*rr);
    auto target = contact_uri(request);
    if (!target) return std::unexpected(target.error());
    i.remote_target = target->empty() ? std::string(request.from().uri.text) : std::move(*target);
    return d;
}

bool Dialog::accept_remote_cseq(std::uint32_t cseq) noexcept {
    if (info_.remote_cseq && cseq <= *info_.remote_cseq) return false;  // §12.2.2: 500
    info_.remote_cseq = cseq;
    return true;
}

void Dialog::refresh_target(const Message& message) {
    auto target = contact_uri(message);
    if (target && !target->empty()) info_.remote_target = std::move(*target);
}

void Dialog::confirm(const Message* response_2xx) {
    if (info_.early && response_2xx != nullptr && response_2xx->is_response()) {
        if (auto rr = record_route(*response_2xx)) {
            std::reverse(rr->begin(), rr->end());
            info_.route_set = std::move(*rr);
        }
        refresh_target(*response_2xx);
    }
    info_.early = false;
}

DialogRouting Dialog::routing() const {
    DialogRouting r;
    if (info_.route_set.empty()) {
        r.request_uri = info_.remote_target;
        r.next_hop_uri = info_.remote_target;
        return r;
    }
    if (has_lr(info_.route_set.front())) {  // §12.2.1.1 loose routing
        r.request_uri = info_.remote_target;
        for (const std::string& u : info_.route_set) r.routes.push_back("<" + u + ">");
    } else {  // §12.2.1.1 strict routing: first route as Request-URI (its parameters kept as written)
        r.request_uri = info_.route_set.front();
        for (std::size_t k = 1; k < info_.route_set.size(); ++k) r.routes.push_back("<" + info_.route_set[k] + ">");
        r.routes.push_back("<" + info_.remote_target + ">");
    }
    r.next_hop_uri = info_.route_set.front();
    return r;
}

std::string Dialog::from_value() const { return info_.local_uri + ";tag=" + info_.local_tag; }

std::string Dialog::to_value() const {
    return info_.remote_tag.empty() ? info_.remote_uri : info_.remote_uri + ";tag=" + info_.remote_tag;
}

OutgoingRequest Dialog::request(std::string_view method, std::uint32_t cseq) const {
    DialogRouting r = routing();
    return OutgoingRequest{.method = std::string(method),
                           .request_uri = std::move(r.request_uri),
                           .routes = std::move(r.routes),
                           .max_forwards = 70,
                           .from = from_value(),
                           .to = to_value(),
                           .call_id = info_.call_id,
                           .cseq = cseq,
                           .headers = {},
                           .content_type = {},
                           .body = {}};
}

}  // namespace referkit
