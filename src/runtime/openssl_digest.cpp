// DigestHash with OpenSSL 3 EVP: the core's digest code computes MD5 / SHA-256 through this.
#include "referkit/runtime/openssl_digest.hpp"

#include <openssl/evp.h>

#include <array>

namespace referkit::runtime {

namespace {

const EVP_MD* evp_for(DigestAlgorithm alg) noexcept {
    switch (alg) {
    case DigestAlgorithm::md5:
    case DigestAlgorithm::md5_sess: return EVP_md5();
    case DigestAlgorithm::sha256:
    case DigestAlgorithm::sha256_sess: return EVP_sha256();
    }
    return nullptr;
}

}  // namespace

DigestHash openssl_digest_hash() {
    return [](DigestAlgorithm alg, std::string_view data) -> std::string {
        const EVP_MD* md = evp_for(alg);
        if (md == nullptr) return {};
        std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
        unsigned int size = 0;
        if (EVP_Digest(data.data(), data.size(), digest.data(), &size, md, nullptr) != 1) return {};
        static constexpr char hex[] = "0123456789abcdef";
        std::string out;
        out.reserve(std::size_t{size} * 2);
        for (unsigned int i = 0; i < size; ++i) {
            out += hex[digest[i] >> 4U];
            out += hex[digest[i] & 0x0FU];
        }
        return out;
    };
}

}  // namespace referkit::runtime
