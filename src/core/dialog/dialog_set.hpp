// The dialogs of one Stack and their usages (RFC 5057): a dialog lives while something uses it
// (the INVITE session, a subscription, the application) and ends with its last usage (§3). Every
// lookup is an index: by DialogId, and by the (Call-ID, local tag, remote tag) of RFC 3261 §12.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "referkit/core/dialog.hpp"
#include "referkit/core/ids.hpp"
#include "referkit/core/transport.hpp"

namespace referkit::stack {

// The key of a dialog's identifiers (RFC 3261 §12): Call-ID, local tag, remote tag.
[[nodiscard]] std::string dialog_key(std::string_view call_id, std::string_view local_tag, std::string_view remote_tag);

struct DialogEntry {
    DialogId id{};
    Dialog dialog{};
    std::size_t usages = 0;
    SessionId session{};  // the INVITE usage, if any
    Transport transport = Transport::udp;
    ConnectionId connection = 0;  // the connection the dialog was made on (reused for its requests)
    std::string key{};
    // The final status we gave the peer's request with the dialog's remote CSeq (not an INVITE):
    // replayed when that request comes again after its server transaction ended. RFC 3261 §12.2.2
    // refuses only lower CSeqs, and over a reliable transport Timer J is 0, so a re-send (a proxy's,
    // a WebSocket client's) can outlive the transaction it repeats.
    struct LastAnswer {
        std::uint32_t cseq = 0;
        Method method = Method::other;
        std::uint16_t status = 0;
    };
    std::optional<LastAnswer> last_answer{};
};

class DialogSet {
public:
    [[nodiscard]] DialogEntry* find(DialogId id);
    [[nodiscard]] const DialogEntry* find(DialogId id) const;
    // §12.2.2: the dialog a request (To tag = our tag) or response belongs to.
    [[nodiscard]] DialogEntry* find(std::string_view call_id, std::string_view local_tag, std::string_view remote_tag);
    // A new dialog holding `usages` usages.
    DialogEntry& add(Dialog d, Transport t, ConnectionId c, std::size_t usages);
    // Adds a usage. False for an unknown dialog.
    bool use(DialogId id);
    // Removes a usage; true when that was the last one and the dialog is gone (RFC 5057 §3).
    bool release(DialogId id);
    [[nodiscard]] std::size_t size() const noexcept { return dialogs_.size(); }

private:
    std::unordered_map<DialogId, DialogEntry, IdHash> dialogs_;
    std::unordered_map<std::string, DialogId> index_;
    std::uint64_t next_ = 1;
};

}  // namespace referkit::stack
