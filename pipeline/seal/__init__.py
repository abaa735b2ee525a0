"""Sealing what a fine rests on, and anchoring it outside the database.

- `content.py`: the canonical content of a violation's seal and the chained hash over it;
- `keys.py`: the service's Ed25519 signing key (a file only the service can read), and the public
  keys that verify seals made with it and with keys it replaced;
- `checkpoints.py`: an append-only file of signed chain heads (review log and seals), so a deleted
  tail or a recomputed chain no longer matches what was written down when it happened.

Nothing here touches the database: `pipeline/store` builds the content from its rows.
"""

from pipeline.seal.content import GENESIS, seal_hash
from pipeline.seal.keys import SigningKey, load_signing_key, trusted_public_keys

__all__ = ["GENESIS", "SigningKey", "load_signing_key", "seal_hash", "trusted_public_keys"]
