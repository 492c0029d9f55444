package access

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// The device signal. Sesame has no device management: what it knows about
// the device a sign-in comes from is what this browser carries in one
// long-lived, HttpOnly cookie that Sesame signed (HMAC-SHA256 with a key
// derived from the server secret), binding the browser to one user:
//
//   - BoundPasskey is set when the user signs in to an app from this
//     browser with a device-bound passkey: the passkey lives on this device
//     (or a security key is plugged into it).
//   - Trusted is set when the user marks this browser trusted on My
//     security info.
//
// The cookie counts only for the user it names, and only while its
// signature holds; anyone can delete it (then the device is unknown, which
// policies treat as the stricter case).

// DeviceCookieName is the cookie carrying the device signal.
const DeviceCookieName = "sesame_device"

// DeviceCookieMaxAge is how long the cookie lives in the browser.
const DeviceCookieMaxAge = 400 * 24 * time.Hour

// DeviceSigner signs and reads the device cookie.
type DeviceSigner struct {
	Key []byte // 32 bytes, derived from the server secret
}

// Encode makes the cookie value for a user's device.
func (s DeviceSigner) Encode(userID string, d Device, now time.Time) string {
	flags := ""
	if d.BoundPasskey {
		flags += "b"
	}
	if d.Trusted {
		flags += "t"
	}
	if flags == "" {
		flags = "-"
	}
	body := "v1." + base64.RawURLEncoding.EncodeToString([]byte(userID)) + "." + flags + "." + strconv.FormatInt(now.Unix(), 10)
	return body + "." + s.mac(body)
}

// Decode reads a cookie value for userID: the zero Device when the value
// is missing, damaged, forged, or for another user.
func (s DeviceSigner) Decode(value, userID string) Device {
	if len(s.Key) == 0 || value == "" || len(value) > 512 || userID == "" {
		return Device{}
	}
	i := strings.LastIndexByte(value, '.')
	if i < 0 {
		return Device{}
	}
	body, mac := value[:i], value[i+1:]
	if !hmac.Equal([]byte(mac), []byte(s.mac(body))) {
		return Device{}
	}
	parts := strings.Split(body, ".")
	if len(parts) != 4 || parts[0] != "v1" {
		return Device{}
	}
	who, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || string(who) != userID {
		return Device{}
	}
	return Device{BoundPasskey: strings.Contains(parts[2], "b"), Trusted: strings.Contains(parts[2], "t")}
}

func (s DeviceSigner) mac(body string) string {
	m := hmac.New(sha256.New, s.Key)
	m.Write([]byte("sesame device cookie\x00" + body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
