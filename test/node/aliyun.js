// @alicloud/pop-core, the RPC-v1 client Node users have: POSTs everything
// in a form body and sends x-acs-action too; treats any top-level Code as an
// error. Prints one JSON line per step for test/node_test.go to check.
const Core = require('@alicloud/pop-core');
const [addr, ak, sk] = process.argv.slice(2);

(async () => {
  const c = new Core({ accessKeyId: ak, accessKeySecret: sk, endpoint: 'http://' + addr, apiVersion: '2016-01-20' });
  const created = await c.request('CreateKey', { Origin: 'EXTERNAL', ProtectionLevel: 'HSM' }, { method: 'POST' });
  const id = created.KeyMetadata.KeyId;
  const params = await c.request('GetParametersForImport',
    { KeyId: id, WrappingKeySpec: 'EC_SM2', WrappingAlgorithm: 'SM2PKE' }, { method: 'POST' });
  const listed = await c.request('ListKeys', { PageSize: 5 }, { method: 'GET' });
  let code = '';
  try {
    await c.request('DescribeKey', { KeyId: 'no-such-key' }, { method: 'POST' });
  } catch (e) {
    code = e.code;
  }
  console.log(JSON.stringify({ state: created.KeyMetadata.KeyState, publicKey: params.PublicKey, expires: params.TokenExpireTime, total: listed.TotalCount, errorCode: code }));
})().catch((e) => { console.error('FAIL ' + e.message); process.exit(1); });
