// Package registry holds what every talk with a container registry needs,
// so that pulling (internal/resolve) and pushing (internal/output) follow one
// policy:
//
//   - which registries may be reached over plain HTTP: loopback addresses
//     (localhost, 127.0.0.0/8, ::1) always, others only when named in
//     Options.Insecure (--insecure-registry); every other plain-HTTP request
//     is refused, even when go-containerregistry would fall back to it;
//   - which certificate authorities are trusted: the system pool, plus
//     Options.CAFile (--registry-ca); a registry named in Insecure is also
//     reached over HTTPS without certificate verification, as docker does;
//   - where credentials come from: Options.Keychain, by default
//     ~/.docker/config.json ($DOCKER_CONFIG) and its credential helpers;
//   - and Login, which checks credentials against a registry and records
//     them as `docker login` does.
package registry
