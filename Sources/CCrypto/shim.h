/* OpenSSL's libcrypto, for its SHA-256 (the snapshot and partition-state checksums). */
#include <openssl/evp.h>
