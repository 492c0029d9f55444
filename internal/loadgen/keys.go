package loadgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// KeysFile is where the bench users' private keys are kept, in the data
// directory next to the database they belong to. Keeping them lets a second
// run reuse the users and passkeys of the first instead of piling up new
// ones (and makes runs comparable: same users, same table sizes).
const KeysFile = "bench-keys.json"

// Passkey is one bench user's software passkey: everything the load
// generator needs to sign in as that user.
type Passkey struct {
	Username     string `json:"username"`
	UserID       string `json:"user_id"` // the WebAuthn user handle
	CredentialID []byte `json:"credential_id"`
	PrivateKey   []byte `json:"private_key"` // PKCS #8, P-256
}

type keysFile struct {
	// RPID the passkeys were registered for: they are useless for another.
	RPID     string    `json:"rp_id"`
	Passkeys []Passkey `json:"passkeys"`
}

// loadKeys reads the keys file; a missing file is an empty one.
func loadKeys(path string) (keysFile, error) {
	var kf keysFile
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return kf, nil
	} else if err != nil {
		return kf, err
	}
	if err := json.Unmarshal(b, &kf); err != nil {
		return kf, fmt.Errorf("%s is damaged (%v): delete it and the bench users are given new passkeys", path, err)
	}
	return kf, nil
}

// saveKeys replaces the keys file atomically, readable by the owner only:
// the keys sign in as the bench users.
func saveKeys(path string, kf keysFile) error {
	b, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".bench-keys-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
