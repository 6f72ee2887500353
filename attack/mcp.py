import json, subprocess, sys, os
p = subprocess.Popen(['/work/wt-atk2/node_modules/node/bin/node','/work/wt-atk2/bin/traced.js','mcp'], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
n=0
def rpc(method, params=None, notify=False):
    global n; n+=1
    msg={'jsonrpc':'2.0','method':method}
    if params is not None: msg['params']=params
    if not notify: msg['id']=n
    p.stdin.write(json.dumps(msg)+'\n'); p.stdin.flush()
    if notify: return None
    while True:
        line=p.stdout.readline()
        if not line: return None
        r=json.loads(line)
        if r.get('id')==n: return r
rpc('initialize',{'protocolVersion':'2025-03-26','capabilities':{},'clientInfo':{'name':'t','version':'1'}})
rpc('notifications/initialized',{},notify=True)
tl=rpc('tools/list',{})
print('tools/list bytes', len(json.dumps(tl['result'])))
for line in sys.argv[1:]:
    name,args=line.split(' ',1)
    r=rpc('tools/call',{'name':name,'arguments':json.loads(args)})
    res=r.get('result',r)
    txt=json.dumps(res)[:900]
    print('===',name,args,'\n',txt)
p.stdin.close(); p.terminate()
