// tencentcloud-sdk-nodejs-common with asymmetric keys: an HSM-level
// ASYMMETRIC_SIGN_VERIFY_RSA_2048 key signs a RAW message with
// RSA_PSS_SHA_256, checked by Node's crypto against GetPublicKey's PEM;
// Node's crypto encrypts to an ASYMMETRIC_DECRYPT_RSA_2048 key and
// AsymmetricRsaDecrypt returns the message.
const tc = require('tencentcloud-sdk-nodejs-common');
const crypto = require('crypto');
const [addr, ak, sk] = process.argv.slice(2);

(async () => {
  const c = new tc.CommonClient(addr, '2019-01-18', {
    credential: { secretId: ak, secretKey: sk },
    region: 'ap-guangzhou',
    profile: { httpProfile: { endpoint: addr, protocol: 'http:' } },
  });
  const message = Buffer.from('signed for node');
  const signer = await c.request('CreateKey', { Alias: 'node-sign', KeyUsage: 'ASYMMETRIC_SIGN_VERIFY_RSA_2048', HsmClusterId: 'keyport-hsm' });
  const signed = await c.request('SignByAsymmetricKey', { KeyId: signer.KeyId, Algorithm: 'RSA_PSS_SHA_256', Message: message.toString('base64'), MessageType: 'RAW' });
  const pem = (await c.request('GetPublicKey', { KeyId: signer.KeyId })).PublicKeyPem;
  const verifiedHere = crypto.verify('sha256', message, { key: pem, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, Buffer.from(signed.Signature, 'base64'));
  const verifiedThere = (await c.request('VerifyByAsymmetricKey', { KeyId: signer.KeyId, Algorithm: 'RSA_PSS_SHA_256', Message: message.toString('base64'), SignatureValue: signed.Signature })).SignatureValid;

  const decrypter = await c.request('CreateKey', { Alias: 'node-decrypt', KeyUsage: 'ASYMMETRIC_DECRYPT_RSA_2048', HsmClusterId: 'keyport-hsm' });
  const dpem = (await c.request('GetPublicKey', { KeyId: decrypter.KeyId })).PublicKeyPem;
  const ct = crypto.publicEncrypt({ key: dpem, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from('to the HSM'));
  const dec = await c.request('AsymmetricRsaDecrypt', { KeyId: decrypter.KeyId, Algorithm: 'RSAES_OAEP_SHA_256', Ciphertext: ct.toString('base64') });

  console.log(JSON.stringify({ verifiedHere, verifiedThere, decrypted: Buffer.from(dec.Plaintext, 'base64').toString() }));
})().catch((e) => { console.error('FAIL ' + e.message); process.exit(1); });
