package debian

import (
	"strings"
	"testing"
	"time"
)

const sampleRelease = `Origin: Debian
Label: Debian-Security
Suite: oldstable-security
Version: 12
Codename: bookworm-security
Date: Wed, 25 Nov 2026 02:22:30 UTC
Valid-Until: Wed, 02 Dec 2026 02:22:30 UTC
Acquire-By-Hash: yes
Architectures: amd64 arm64
Components: updates/main updates/contrib
Description: Debian 12 - Security Updates
MD5Sum:
 d41d8cd98f00b204e9800998ecf8427e        0 main/binary-amd64/Packages
SHA256:
 49a9e54c4ffc7bde7834f37042f551ce863c2630382396592602f432cdbf6f1c  2532743 main/binary-amd64/Packages
 a59b44d3150ec5621306ce98e42bcb14f95451fe82ca7e6b83d1da7454a1ea3d   379936 main/binary-amd64/Packages.xz
`

func TestParseRelease(t *testing.T) {
	r, err := ParseRelease([]byte(sampleRelease))
	if err != nil {
		t.Fatal(err)
	}
	if r.Suite != "oldstable-security" || r.Codename != "bookworm-security" || !r.AcquireByHash {
		t.Fatalf("release = %+v", r)
	}
	if want := time.Date(2026, 12, 2, 2, 22, 30, 0, time.UTC); !r.ValidUntil.Equal(want) {
		t.Fatalf("ValidUntil = %v, want %v", r.ValidUntil, want)
	}
	if got := r.SHA256["main/binary-amd64/Packages.xz"]; got.Size != 379936 || got.SHA256 != "a59b44d3150ec5621306ce98e42bcb14f95451fe82ca7e6b83d1da7454a1ea3d" {
		t.Fatalf("Packages.xz = %+v", got)
	}
	if len(r.SHA256) != 2 || strings.Join(r.Architectures, " ") != "amd64 arm64" {
		t.Fatalf("release = %+v", r)
	}
	bad := map[string]string{
		"no SHA256":  strings.Split(sampleRelease, "SHA256:")[0],
		"bad date":   strings.Replace(sampleRelease, "Date: Wed, 25 Nov 2026 02:22:30 UTC", "Date: yesterday", 1),
		"bad hash":   strings.Replace(sampleRelease, " 49a9e54c", " zz9e54c", 1),
		"bad size":   strings.Replace(sampleRelease, "2532743", "-1", 1),
		"short line": strings.Replace(sampleRelease, "  2532743 main", " main", 1),
		"no suite":   strings.Replace(strings.Replace(sampleRelease, "Suite: oldstable-security\n", "", 1), "Codename: bookworm-security\n", "", 1),
		"empty":      "",
	}
	for name, in := range bad {
		if _, err := ParseRelease([]byte(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Numeric zones parse too.
	r, err = ParseRelease([]byte(strings.Replace(sampleRelease, "02:22:30 UTC\nValid", "02:22:30 +0100\nValid", 1)))
	if err != nil || !r.Date.Equal(time.Date(2026, 11, 25, 1, 22, 30, 0, time.UTC)) {
		t.Fatalf("numeric zone: %v %v", r.Date, err)
	}
}

func TestVerifyInRelease(t *testing.T) {
	key := testKey(t, "archive")
	keys := publicKeyring(t, key)
	rel := strings.NewReplacer("Wed, 25 Nov 2026 02:22:30 UTC", "Mon, 01 Jun 2026 10:00:00 UTC", "Wed, 02 Dec 2026 02:22:30 UTC", "Mon, 08 Jun 2026 10:00:00 UTC").Replace(sampleRelease)
	signed := clearsignText(t, key, rel)

	r, err := VerifyInRelease(signed, keys, "bookworm-security", testNow)
	if err != nil {
		t.Fatal(err)
	}
	if r.Signer != strings.ToUpper(hexOf(key.PrimaryKey.Fingerprint)) {
		t.Fatalf("Signer = %s", r.Signer)
	}
	if r.SHA256["main/binary-amd64/Packages.xz"].Size != 379936 {
		t.Fatal("signed content not parsed")
	}
	if _, err := VerifyInRelease(signed, keys, "oldstable-security", testNow); err != nil {
		t.Fatalf("suite name instead of codename: %v", err)
	}

	tests := []struct {
		name string
		data []byte
		keys Keyring
		now  time.Time
		want string
	}{
		{"unsigned", []byte(rel), keys, testNow, "not clearsigned"},
		{"no keys", signed, nil, testNow, "no keys"},
		{"wrong key", signed, publicKeyring(t, testKey(t, "other")), testNow, "not in the keyring"},
		{"expired", signed, keys, time.Date(2026, 6, 8, 10, 0, 1, 0, time.UTC), "expired"},
		{"not valid yet", clearsignText(t, key, strings.Replace(rel, "Mon, 01 Jun 2026 10:00:00 UTC", "Mon, 01 Jun 2026 12:30:00 UTC", 1)), keys, testNow, "not valid yet"},
		{"signed in the future", signed, keys, time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC), "check the clock"},
		{"tampered", []byte(strings.Replace(string(signed), "379936", "379937", 1)), keys, testNow, "bad signature"},
		{"signature stripped", []byte(strings.Split(string(signed), "-----BEGIN PGP SIGNATURE-----")[0]), keys, testNow, "malformed"},
		{"prefix garbage", append([]byte("Suite: x\n"), signed...), keys, testNow, "not clearsigned"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := VerifyInRelease(tt.data, tt.keys, "bookworm-security", tt.now)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := VerifyInRelease(signed, keys, "bookworm", testNow); err == nil || !strings.Contains(err.Error(), `not "bookworm"`) {
		t.Fatalf("suite mismatch: err = %v", err)
	}
}

func TestVerifyInReleaseExpiredKey(t *testing.T) {
	key := testKey(t, "short-lived")
	// The key was made a day before testNow; a clock ten years on sees the
	// same signature, but key expiry is checked against the clock too.
	lifetime := uint32(48 * 3600)
	for _, id := range key.Identities {
		id.SelfSignature.KeyLifetimeSecs = &lifetime
		if err := id.SelfSignature.SignUserId(id.UserId.Id, key.PrimaryKey, key.PrivateKey, nil); err != nil {
			t.Fatal(err)
		}
	}
	rel := strings.NewReplacer("Valid-Until: Wed, 02 Dec 2026 02:22:30 UTC\n", "", "Wed, 25 Nov 2026 02:22:30 UTC", "Mon, 01 Jun 2026 10:00:00 UTC").Replace(sampleRelease)
	signed := clearsignText(t, key, rel)
	if _, err := VerifyInRelease(signed, publicKeyring(t, key), "", testNow); err != nil {
		t.Fatalf("within key lifetime: %v", err)
	}
	_, err := VerifyInRelease(signed, publicKeyring(t, key), "", testNow.AddDate(10, 0, 0))
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("err = %v, want key expiry", err)
	}
}
