// @alicloud/pop-core with asymmetric keys: an HSM-level EC_P256 signing key
// signs a SHA-256 digest, and Node's crypto checks the signature against
// GetPublicKey's PEM; Node's crypto encrypts to an RSA_2048 decryption
// key with OAEP-SHA-256, and AsymmetricDecrypt returns the message.
const Core = require('@alicloud/pop-core');
const crypto = require('crypto');
const [addr, ak, sk] = process.argv.slice(2);

(async () => {
  const c = new Core({ accessKeyId: ak, accessKeySecret: sk, endpoint: 'http://' + addr, apiVersion: '2016-01-20' });
  const post = (action, params) => c.request(action, params, { method: 'POST' });
  const message = Buffer.from('signed for node');
  const digest = crypto.createHash('sha256').update(message).digest('base64');

  const signer = (await post('CreateKey', { KeySpec: 'EC_P256', KeyUsage: 'SIGN/VERIFY', ProtectionLevel: 'HSM' })).KeyMetadata;
  const signed = await post('AsymmetricSign', { KeyId: signer.KeyId, KeyVersionId: signer.PrimaryKeyVersion, Algorithm: 'ECDSA_SHA_256', Digest: digest });
  const signerPEM = (await post('GetPublicKey', { KeyId: signer.KeyId, KeyVersionId: signer.PrimaryKeyVersion })).PublicKey;
  const verifiedHere = crypto.verify('sha256', message, signerPEM, Buffer.from(signed.Value, 'base64'));
  const verifiedThere = (await post('AsymmetricVerify', { KeyId: signer.KeyId, KeyVersionId: signer.PrimaryKeyVersion, Algorithm: 'ECDSA_SHA_256', Digest: digest, Value: signed.Value })).Value;

  const decrypter = (await post('CreateKey', { KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT/DECRYPT', ProtectionLevel: 'HSM' })).KeyMetadata;
  const decrypterPEM = (await post('GetPublicKey', { KeyId: decrypter.KeyId, KeyVersionId: decrypter.PrimaryKeyVersion })).PublicKey;
  const ct = crypto.publicEncrypt({ key: decrypterPEM, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from('to the HSM'));
  const dec = await post('AsymmetricDecrypt', { KeyId: decrypter.KeyId, KeyVersionId: decrypter.PrimaryKeyVersion, Algorithm: 'RSAES_OAEP_SHA_256', CiphertextBlob: ct.toString('base64') });

  console.log(JSON.stringify({ verifiedHere, verifiedThere, decrypted: Buffer.from(dec.Plaintext, 'base64').toString() }));
})().catch((e) => { console.error('FAIL ' + e.message); process.exit(1); });
