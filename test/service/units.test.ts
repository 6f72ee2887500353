/**
 * The service definitions as `traced service install` renders them: the plist
 * parses as a property list with the right keys, systemd-analyze accepts the
 * unit without a warning, and the Windows task XML is well-formed with a logon
 * trigger and the right action. `--dry-run` writes nothing.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { servicePlan, writeDefinition } from '../../src/service.js';
import { BIN, cli, makeHome, tempDir } from '../helpers/env.js';

const has = (b: string) => spawnSync('sh', ['-c', `command -v ${b}`]).status === 0;
if (process.env.CI === 'true' && (!has('python3') || !has('systemd-analyze'))) throw new Error('CI: python3 and systemd-analyze are needed for the unit tests');

const py = (code: string, file: string) => spawnSync('python3', ['-c', code, file], { encoding: 'utf8' });

describe('service definitions', () => {
  const home = makeHome();
  const userHome = tempDir('uhome-');
  const opts = { node: process.execPath, entry: BIN, userHome, user: 'dev', uid: 501 };

  it.skipIf(!has('python3'))('launchd: a property list with the label, program, run-at-load, keep-alive and throttle', () => {
    const plan = servicePlan(home.env, 'launchd', opts);
    expect(plan.file).toBe(path.join(userHome, 'Library', 'LaunchAgents', 'dev.traced.daemon.plist'));
    writeDefinition(plan);
    const r = py('import json,plistlib,sys; print(json.dumps(plistlib.load(open(sys.argv[1],"rb"))))', plan.file);
    expect(r.status, r.stderr).toBe(0);
    const p = JSON.parse(r.stdout);
    expect(p).toMatchObject({
      Label: 'dev.traced.daemon',
      ProgramArguments: [process.execPath, BIN, 'daemon'],
      RunAtLoad: true,
      KeepAlive: { SuccessfulExit: false },
      ThrottleInterval: 10,
      EnvironmentVariables: { TRACED_HOME: home.home },
      StandardErrorPath: path.join(home.home, 'logs', 'launchd.err.log'),
    });
    expect(plan.install).toEqual([['launchctl', 'bootstrap', 'gui/501', plan.file]]);
  });

  it.skipIf(!has('systemd-analyze'))('systemd: a user unit systemd-analyze verify accepts without a warning', () => {
    const plan = servicePlan(home.env, 'systemd', opts);
    expect(plan.file).toBe(path.join(userHome, '.config', 'systemd', 'user', 'traced.service'));
    const file = path.join(tempDir('unit-'), 'traced.service');
    fs.writeFileSync(file, plan.content);
    const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.trim(), 'no warnings').toBe('');
    expect(plan.content).toContain(`ExecStart="${process.execPath}" "${BIN}" daemon`);
    expect(plan.content).toMatch(/^Restart=on-failure$/m);
    expect(plan.content).toMatch(/^WantedBy=default\.target$/m);
    expect(plan.content).toMatch(/^PassEnvironment=DISPLAY WAYLAND_DISPLAY/m);
    expect(plan.install.at(-1)).toEqual(['systemctl', '--user', 'enable', '--now', 'traced.service']);
  });

  it.skipIf(!has('python3'))('windows: well-formed task XML (UTF-16) with a logon trigger and the node + entry action', () => {
    const plan = servicePlan(home.env, 'windows', opts);
    writeDefinition(plan);
    expect(fs.readFileSync(plan.file).subarray(0, 2)).toEqual(Buffer.from([0xff, 0xfe]));
    const r = py(
      'import json,sys,xml.etree.ElementTree as E; ns={"t":"http://schemas.microsoft.com/windows/2004/02/mit/task"}; r=E.parse(sys.argv[1]).getroot(); ' +
        'print(json.dumps({"logon": r.find("t:Triggers/t:LogonTrigger", ns) is not None, "user": r.find("t:Triggers/t:LogonTrigger/t:UserId", ns).text, ' +
        '"cmd": r.find("t:Actions/t:Exec/t:Command", ns).text, "args": r.find("t:Actions/t:Exec/t:Arguments", ns).text, "logonType": r.find("t:Principals/t:Principal/t:LogonType", ns).text}))',
      plan.file,
    );
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ logon: true, user: 'dev', cmd: process.execPath, args: `"${BIN}" daemon`, logonType: 'InteractiveToken' });
    expect(plan.install[0]).toEqual(['schtasks', '/Create', '/TN', 'traced', '/XML', plan.file, '/F']);
  });

  it('install --dry-run prints the definition and the commands, and writes nothing', async () => {
    const h = makeHome({ HOME: userHome, XDG_CONFIG_HOME: path.join(userHome, 'cfg') });
    const r = await cli(h, ['service', 'install', '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Would write .*traced\.service \(systemd\):/);
    expect(r.stdout).toContain('systemctl --user enable --now traced.service');
    expect(fs.existsSync(path.join(userHome, 'cfg', 'systemd'))).toBe(false);
    const st = await cli(h, ['service', 'status', '--json']);
    expect(st.json).toMatchObject({ manager: 'systemd', installed: false, answering: false });
  });
});
