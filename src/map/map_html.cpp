// map_html.cpp: the decoder map page, one self-contained HTML document (inline CSS, canvas, inline JS, the
// map's data as an inline JSON block; no external resources, opens offline).
//
// Data text reaches the page only through JSON.parse and textContent (never innerHTML), and every '<', '>'
// and '&' of the JSON block is written as a \u escape, so labels such as "</script><script>..." stay text.
#include <cmath>
#include <map>

#include "unfold/core/strings.h"
#include "unfold/map/decoder_map.h"
#include "unfold/viz/svg.h"

namespace unfold {

namespace {

const char* const kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};

double r3(double v) { return std::round(v * 1000.0) / 1000.0; }
double r4(double v) { return std::round(v * 10000.0) / 10000.0; }

// JSON text safe inside a <script> element: no '<', '>' or '&' outside \u escapes (they only occur in strings)
std::string script_safe(const std::string& json) {
    std::string o;
    o.reserve(json.size() + 64);
    for (char c : json) {
        if (c == '<') o += "\\u003c";
        else if (c == '>') o += "\\u003e";
        else if (c == '&') o += "\\u0026";
        else o += c;
    }
    return o;
}

const char* kCss = R"CSS(
*{box-sizing:border-box}
html,body{margin:0;height:100%;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d2330;background:#f4f5f8}
header{height:58px;display:flex;align-items:center;gap:18px;padding:0 18px;background:#fff;border-bottom:1px solid #e1e4ea}
header .tt{min-width:0;display:flex;flex-direction:column}
header h1{font-size:16px;margin:0;font-weight:650;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
header .sub{color:#5b6474;font-size:12px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
header .ctl{margin-left:auto;display:flex;gap:10px;align-items:center}
select,input[type=search],button{font:inherit;font-size:13px;border:1px solid #cfd4dd;border-radius:6px;padding:5px 8px;background:#fff;color:#1d2330}
input[type=search]{width:210px}
button{cursor:pointer;white-space:nowrap}button:hover{background:#f0f2f6}
label.chk{font-size:13px;color:#3b4352;display:flex;gap:5px;align-items:center;white-space:nowrap}
main{position:absolute;top:58px;bottom:0;left:0;right:0;display:flex}
#plot{position:relative;flex:1;min-width:0;background:#fff;margin:12px 0 12px 12px;border:1px solid #e1e4ea;border-radius:10px;overflow:hidden}
#cv{position:absolute;left:0;top:0;width:100%;height:100%;cursor:crosshair}
#cv.drag{cursor:grabbing}
#help{position:absolute;left:12px;bottom:8px;font-size:12px;color:#7a8291;pointer-events:none;background:rgba(255,255,255,.85);padding:2px 6px;border-radius:4px}
#count{position:absolute;right:12px;top:8px;font-size:12px;color:#5b6474;background:rgba(255,255,255,.85);padding:2px 6px;border-radius:4px;pointer-events:none}
aside{width:330px;flex:none;overflow-y:auto;padding:12px}
.card{background:#fff;border:1px solid #e1e4ea;border-radius:10px;padding:12px 14px;margin-bottom:12px}
.card h2{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:#6b7385;margin:0 0 8px;font-weight:650}
.leg{display:flex;align-items:center;gap:8px;padding:4px 4px;border-radius:6px;cursor:pointer;user-select:none}
.leg:hover{background:#f3f5f9}.leg.off{opacity:.35}
.sw{width:12px;height:12px;border-radius:50%;flex:none}
.leg .n{margin-left:auto;color:#7a8291;font-size:12px;font-variant-numeric:tabular-nums}
.leg .nm{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
#bar{height:12px;border-radius:3px;margin:6px 0 2px}
.ticks{display:flex;justify-content:space-between;font-size:11px;color:#6b7385}
#sel .fid{font-size:16px;font-weight:650}
#sel .lab{margin:4px 0 6px;color:#2b3240;word-break:break-word}
#sel .kv{font-size:12px;color:#5b6474}
#sel a{color:#2864c7;text-decoration:none}#sel a:hover{text-decoration:underline}
.fam{margin-top:10px}
.fam h3{font-size:12px;margin:0 0 4px;color:#3b4352;font-weight:600}
.mem{display:flex;align-items:center;gap:6px;font-size:12px;padding:2px 0;cursor:pointer}
.mem:hover .id{text-decoration:underline}
.mem .id{width:64px;flex:none;font-variant-numeric:tabular-nums;color:#2864c7}
.mem .cb{flex:1;height:8px;background:#eef0f4;border-radius:4px;overflow:hidden}
.mem .cb i{display:block;height:100%}
.mem .cv{width:44px;text-align:right;font-variant-numeric:tabular-nums;color:#3b4352}
.mem .ml{flex:1.4;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;color:#6b7385}
.muted{color:#8a91a0;font-size:12px}
#tip{position:absolute;pointer-events:none;background:rgba(22,27,38,.94);color:#fff;font-size:12px;padding:6px 9px;border-radius:6px;max-width:300px;display:none;box-shadow:0 2px 8px rgba(0,0,0,.25);z-index:5}
#tip b{font-weight:650}#tip .l{color:#d8dde8;margin-top:2px;word-break:break-word}#tip .m{color:#aab2c2;margin-top:2px}
)CSS";

const char* kJs = R"JS(
(function(){
'use strict';
var D=JSON.parse(document.getElementById('map-data').textContent);
var cv=document.getElementById('cv'),g=cv.getContext('2d'),plot=document.getElementById('plot');
var tip=document.getElementById('tip');
function el(t,c,txt){var e=document.createElement(t);if(c)e.className=c;if(txt!==undefined)e.textContent=txt;return e;}
function fmtD(v){if(v===null||v===undefined)return 'unknown';if(v<=0)return '0 (dead)';return v>=0.01?v.toFixed(3):v.toExponential(2);}
var S=D.saes,N=0,i,s;
for(s=0;s<S.length;s++)N+=S[s].f.length;
var PX=new Float32Array(N),PY=new Float32Array(N),PS=new Int32Array(N),PF=new Int32Array(N),PI=new Int32Array(N);
var idx=[],p=0,ST=[],EN=[];
for(s=0;s<S.length;s++){var m=new Map();ST.push(p);for(i=0;i<S[s].f.length;i++){PX[p]=S[s].x[i];PY[p]=-S[s].y[i];PS[p]=s;PF[p]=S[s].f[i];PI[p]=i;m.set(S[s].f[i],p);p++;}EN.push(p);idx.push(m);S[s].on=true;}
// families: fam[s] Map(feature -> {l, mem:[[g,c],...]}), par[s] Map(feature -> {s, f, c})
var fam=S.map(function(){return new Map();}),par=S.map(function(){return new Map();});
(D.fam||[]).forEach(function(F){F.m.forEach(function(r){var mem=[];for(var q=1;q+1<r.length;q+=2)mem.push([r[q],r[q+1]]);fam[F.s].set(r[0],{l:F.l,mem:mem});});
  F.p.forEach(function(r){par[F.l].set(r[0],{s:F.s,f:r[1],c:r[2]});});});
var minx=Infinity,maxx=-Infinity,miny=Infinity,maxy=-Infinity;
for(i=0;i<N;i++){if(PX[i]<minx)minx=PX[i];if(PX[i]>maxx)maxx=PX[i];if(PY[i]<miny)miny=PY[i];if(PY[i]>maxy)maxy=PY[i];}
if(!(maxx>minx)){maxx=minx+1;}if(!(maxy>miny)){maxy=miny+1;}
// a grid over the data for hit tests
var GN=128,gx=(maxx-minx)/GN,gy=(maxy-miny)/GN,cells=new Array(GN*GN);
for(i=0;i<N;i++){var cx=Math.min(GN-1,Math.floor((PX[i]-minx)/gx)),cy=Math.min(GN-1,Math.floor((PY[i]-miny)/gy)),c=cy*GN+cx;(cells[c]||(cells[c]=[])).push(i);}
var W=0,H=0,dpr=1,view={cx:0,cy:0,k:1};
function fit(){view.cx=(minx+maxx)/2;view.cy=(miny+maxy)/2;view.k=Math.min((W-60)/(maxx-minx),(H-60)/(maxy-miny));}
function sx(x){return (x-view.cx)*view.k+W/2;}function sy(y){return (y-view.cy)*view.k+H/2;}
function dx(X){return (X-W/2)/view.k+view.cx;}function dy(Y){return (Y-H/2)/view.k+view.cy;}
// colours
var mode=(S.length>1||!S.some(function(t){return t.den;}))?'sae':'density';
var VIR=[[68,1,84],[59,82,139],[33,145,140],[94,201,98],[253,231,37]];
function ramp(t){t=Math.max(0,Math.min(1,t))*(VIR.length-1);var a=Math.floor(t),b=Math.min(VIR.length-1,a+1),u=t-a;
  return 'rgb('+[0,1,2].map(function(j){return Math.round(VIR[a][j]+(VIR[b][j]-VIR[a][j])*u);}).join(',')+')';}
var dlo=Infinity,dhi=-Infinity;
S.forEach(function(t){if(t.den)t.den.forEach(function(v){if(v>0){var l=Math.log10(v);if(l<dlo)dlo=l;if(l>dhi)dhi=l;}});});
if(!(dhi>dlo)){dlo=-6;dhi=0;}
var LABP=['#e6194b','#3cb44b','#4363d8','#f58231','#911eb4','#42d4f4','#f032e6','#9a6324','#469990','#800000','#808000','#000075'];
var labTop=[],labCol=new Map();
(function(){var cnt=new Map();S.forEach(function(t){if(t.lab)t.lab.forEach(function(l){if(l)cnt.set(l,(cnt.get(l)||0)+1);});});
  labTop=Array.from(cnt.entries()).filter(function(e){return e[1]>1;}).sort(function(a,b){return b[1]-a[1]||(a[0]<b[0]?-1:1);}).slice(0,LABP.length);
  labTop.forEach(function(e,j){labCol.set(e[0],LABP[j]);});})();
function colour(i){var t=S[PS[i]];
  if(mode==='density'){if(!t.den)return '#c4c8d0';var v=t.den[PI[i]];return v>0?ramp((Math.log10(v)-dlo)/(dhi-dlo)):'#c4c8d0';}
  if(mode==='label'){var l=t.lab?t.lab[PI[i]]:'';return labCol.get(l)||'#cdd1d9';}
  return t.color;}
var sprites=new Map();
function sprite(col,r){var key=col+'|'+r;var sp=sprites.get(key);if(sp)return sp;
  var sz=Math.ceil((r+1.5)*2*dpr),c=document.createElement('canvas');c.width=c.height=sz;var q=c.getContext('2d');
  q.beginPath();q.arc(sz/2,sz/2,r*dpr,0,2*Math.PI);q.fillStyle=col;q.globalAlpha=0.82;q.fill();q.globalAlpha=1;q.lineWidth=0.6*dpr;q.strokeStyle='rgba(255,255,255,0.7)';q.stroke();
  sp={c:c,h:sz/2/dpr,s:sz/dpr};sprites.set(key,sp);return sp;}
var order=[];for(s=0;s<S.length;s++)order.push(s);order.sort(function(a,b){return S[b].f.length-S[a].f.length;});
var hover=-1,pinned=-1,match=null,famLines=false,minCos=D.min_cos||0;
var query=document.getElementById('q');
function radius(s){var base=N>20000?1.8:N>5000?2.3:N>1500?3.0:3.6;return Math.max(1.4,Math.min(7,base*Math.pow(view.k/baseK,0.35)));}
var baseK=1,fitted=false;
function related(i){ // [[point, cosine, kind]] of the feature's family and parent
  var out=[],s=PS[i],f=PF[i],F=fam[s].get(f),P=par[s].get(f);
  if(F)F.mem.forEach(function(m){var q=idx[F.l].get(m[0]);if(q!==undefined)out.push([q,m[1],'child']);});
  if(P){var q=idx[P.s].get(P.f);if(q!==undefined)out.push([q,P.c,'parent']);}
  return out;}
var queued=false;function draw(){if(!queued){queued=true;requestAnimationFrame(paint);}}
function paint(){queued=false;g.setTransform(dpr,0,0,dpr,0,0);g.clearRect(0,0,W,H);
  var x0=dx(-10),x1=dx(W+10),y0=dy(-10),y1=dy(H+10),shown=0;
  if(famLines){g.lineWidth=0.7;g.strokeStyle='rgba(90,100,120,0.22)';g.beginPath();
    fam.forEach(function(M,s){if(!S[s].on)return;M.forEach(function(F,f){if(!S[F.l].on||!F.mem.length||F.mem[0][1]<minCos)return;var a=idx[s].get(f),b=idx[F.l].get(F.mem[0][0]);if(a===undefined||b===undefined)return;
      g.moveTo(sx(PX[a]),sy(PY[a]));g.lineTo(sx(PX[b]),sy(PY[b]));});});g.stroke();}
  var fade=match!==null;
  order.forEach(function(s){if(!S[s].on)return;var r=radius(s);
    for(var i=ST[s];i<EN[s];i++){var x=PX[i],y=PY[i];if(x<x0||x>x1||y<y0||y>y1)continue;shown++;
      var sp=sprite(fade&&!match.has(i)?'#e3e6ec':colour(i),r);g.drawImage(sp.c,sx(x)-sp.h,sy(y)-sp.h,sp.s,sp.s);}});
  if(fade){match.forEach(function(i){if(!S[PS[i]].on)return;var sp=sprite(colour(i),radius(PS[i])+1);g.drawImage(sp.c,sx(PX[i])-sp.h,sy(PY[i])-sp.h,sp.s,sp.s);});}
  [pinned,hover].forEach(function(i,n){if(i<0)return;var rel=related(i);
    rel.forEach(function(r){var q=r[0];g.strokeStyle=r[2]==='parent'?'rgba(40,40,40,0.75)':'rgba(217,72,15,'+(0.25+0.7*Math.max(0,r[1]))+')';g.lineWidth=1.6;
      g.beginPath();g.moveTo(sx(PX[i]),sy(PY[i]));g.lineTo(sx(PX[q]),sy(PY[q]));g.stroke();
      g.beginPath();g.arc(sx(PX[q]),sy(PY[q]),radius(PS[q])+3,0,2*Math.PI);g.lineWidth=1.5;g.strokeStyle=r[2]==='parent'?'#333':'#d9480f';g.stroke();});
    g.beginPath();g.arc(sx(PX[i]),sy(PY[i]),radius(PS[i])+4,0,2*Math.PI);g.lineWidth=2.2;g.strokeStyle=n===0?'#111':'#2864c7';g.stroke();});
  document.getElementById('count').textContent=shown.toLocaleString()+' of '+N.toLocaleString()+' points in view';}
function nearest(mx,my){var X=dx(mx),Y=dy(my),rad=8/view.k,best=-1,bd=rad*rad;
  var c0=Math.max(0,Math.floor((X-rad-minx)/gx)),c1=Math.min(GN-1,Math.floor((X+rad-minx)/gx)),r0=Math.max(0,Math.floor((Y-rad-miny)/gy)),r1=Math.min(GN-1,Math.floor((Y+rad-miny)/gy));
  for(var r=r0;r<=r1;r++)for(var c=c0;c<=c1;c++){var L=cells[r*GN+c];if(!L)continue;for(var j=0;j<L.length;j++){var i=L[j];if(!S[PS[i]].on)continue;var ex=PX[i]-X,ey=PY[i]-Y,d2=ex*ex+ey*ey;if(d2<bd){bd=d2;best=i;}}}
  return best;}
function link(i){if(!D.link)return '';var t=S[PS[i]];return D.link.split('{id}').join(String(PF[i])).split('{sae}').join(encodeURIComponent(t.name));}
function showTip(i,mx,my){if(i<0){tip.style.display='none';return;}var t=S[PS[i]];tip.textContent='';
  var h=el('div');var b=el('b',null,t.name+'  #'+PF[i]);h.appendChild(b);tip.appendChild(h);
  if(t.lab&&t.lab[PI[i]])tip.appendChild(el('div','l',t.lab[PI[i]]));
  if(t.den)tip.appendChild(el('div','m','density '+fmtD(t.den[PI[i]])));
  var F=fam[PS[i]].get(PF[i]);if(F&&F.mem.length)tip.appendChild(el('div','m','family in '+S[F.l].name+': '+F.mem.slice(0,3).map(function(m){return '#'+m[0]+' ('+m[1].toFixed(2)+')';}).join(', ')));
  var P=par[PS[i]].get(PF[i]);if(P)tip.appendChild(el('div','m','parent in '+S[P.s].name+': #'+P.f+' ('+P.c.toFixed(2)+')'));
  tip.style.display='block';var w=tip.offsetWidth,hh=tip.offsetHeight;var x=mx+14,y=my+14;if(x+w>W-4)x=mx-w-14;if(y+hh>H-4)y=my-hh-14;tip.style.left=x+'px';tip.style.top=y+'px';}
function memRow(q,c,cls){var t=S[PS[q]],row=el('div','mem');row.appendChild(el('span','id','#'+PF[q]));
  var cb=el('span','cb'),fill=el('i');fill.style.width=Math.round(100*Math.max(0,c))+'%';fill.style.background=cls==='parent'?'#59606e':t.color;cb.appendChild(fill);row.appendChild(cb);
  row.appendChild(el('span','cv',c.toFixed(3)));if(t.lab&&t.lab[PI[q]])row.appendChild(el('span','ml',t.lab[PI[q]]));
  row.title=t.name+' #'+PF[q];row.addEventListener('click',function(){select(q,true);});return row;}
function panel(i){var box=document.getElementById('sel');box.textContent='';
  if(i<0){box.appendChild(el('div','muted','Hover a point to see its feature; click to pin it. Features of a smaller SAE show their family (closest features of the next larger SAE, by decoder cosine); features of a larger one their parent.'));return;}
  var t=S[PS[i]],f=PF[i];var head=el('div','fid');var sw=el('span','sw');sw.style.display='inline-block';sw.style.background=t.color;sw.style.marginRight='8px';head.appendChild(sw);head.appendChild(document.createTextNode(t.name+'  #'+f));box.appendChild(head);
  box.appendChild(el('div','lab',t.lab&&t.lab[PI[i]]?t.lab[PI[i]]:'(no label)'));
  box.appendChild(el('div','kv','density '+(t.den?fmtD(t.den[PI[i]]):'unknown')+'  ·  d_sae '+t.d_sae+(t.arch?'  ·  '+t.arch:'')));
  var L=link(i);if(L){var a=el('a',null,'open feature page →');a.href=L;var d=el('div','kv');d.style.marginTop='6px';d.appendChild(a);box.appendChild(d);}
  var F=fam[PS[i]].get(f);if(F&&F.mem.length){var fb=el('div','fam');fb.appendChild(el('h3',null,'Family in '+S[F.l].name+' (cosine)'));
    F.mem.forEach(function(m){var q=idx[F.l].get(m[0]);if(q!==undefined)fb.appendChild(memRow(q,m[1],'child'));});box.appendChild(fb);}
  var P=par[PS[i]].get(f);if(P){var pb=el('div','fam');pb.appendChild(el('h3',null,'Parent in '+S[P.s].name));var q=idx[P.s].get(P.f);if(q!==undefined)pb.appendChild(memRow(q,P.c,'parent'));box.appendChild(pb);}}
function select(i,centre){pinned=i;panel(i);if(centre&&i>=0){var x=sx(PX[i]),y=sy(PY[i]);if(x<40||x>W-40||y<40||y>H-40){view.cx=PX[i];view.cy=PY[i];}}draw();}
// legend
function legend(){var L=document.getElementById('legend');L.textContent='';
  S.forEach(function(t,s){var r=el('div','leg'+(t.on?'':' off'));var sw=el('span','sw');sw.style.background=t.color;r.appendChild(sw);
    r.appendChild(el('span','nm',t.name));r.appendChild(el('span','n',t.f.length.toLocaleString()+' / '+t.d_sae.toLocaleString()));r.title=(t.path||t.name)+' — click to show or hide';
    r.addEventListener('click',function(){t.on=!t.on;legend();draw();});L.appendChild(r);});
  var K=document.getElementById('key');K.textContent='';
  if(mode==='density'){K.appendChild(el('div','muted','log10 firing density'));var bar=el('div');bar.id='bar';var st=[];for(var j=0;j<=10;j++)st.push(ramp(j/10)+' '+(j*10)+'%');bar.style.background='linear-gradient(to right,'+st.join(',')+')';K.appendChild(bar);
    var tk=el('div','ticks');tk.appendChild(el('span',null,dlo.toFixed(1)));tk.appendChild(el('span',null,((dlo+dhi)/2).toFixed(1)));tk.appendChild(el('span',null,dhi.toFixed(1)));K.appendChild(tk);
    if(!S.some(function(t){return t.den;}))K.appendChild(el('div','muted','no densities: give a features database (--db) or a run with sparsity.safetensors'));}
  else if(mode==='label'){if(!labTop.length)K.appendChild(el('div','muted','no shared labels: give a features database (--db)'));
    labTop.forEach(function(e){var r=el('div','leg');var sw=el('span','sw');sw.style.background=labCol.get(e[0]);r.appendChild(sw);r.appendChild(el('span','nm',e[0]));r.appendChild(el('span','n',String(e[1])));
      r.addEventListener('click',function(){query.value=e[0];search();});K.appendChild(r);});}
  else K.appendChild(el('div','muted','colour = SAE; lines = families (hover a point)'));}
function search(){var v=query.value.trim().toLowerCase();if(!v){match=null;draw();return;}match=new Set();
  var num=/^#?\d+$/.test(v)?parseInt(v.replace('#',''),10):-1;
  for(var i=0;i<N;i++){var t=S[PS[i]];if(PF[i]===num||(t.lab&&t.lab[PI[i]]&&t.lab[PI[i]].toLowerCase().indexOf(v)>=0))match.add(i);}
  document.getElementById('count').textContent=match.size+' matches';draw();}
query.addEventListener('input',search);
query.addEventListener('keydown',function(e){if(e.key==='Enter'&&match&&match.size){var first=match.values().next().value;select(first,true);}});
var cm=document.getElementById('colour');cm.value=mode;cm.addEventListener('change',function(){mode=cm.value;legend();draw();});
document.getElementById('fl').addEventListener('change',function(e){famLines=e.target.checked;draw();});
document.getElementById('reset').addEventListener('click',function(){fit();draw();});
var drag=null;
cv.addEventListener('mousedown',function(e){drag={x:e.offsetX,y:e.offsetY,cx:view.cx,cy:view.cy,moved:false};});
window.addEventListener('mouseup',function(e){if(drag&&!drag.moved&&e.target===cv){select(nearest(e.offsetX,e.offsetY),false);}drag=null;cv.classList.remove('drag');});
cv.addEventListener('mousemove',function(e){if(drag){var ddx=e.offsetX-drag.x,ddy=e.offsetY-drag.y;if(Math.abs(ddx)+Math.abs(ddy)>3){drag.moved=true;cv.classList.add('drag');}
    if(drag.moved){view.cx=drag.cx-ddx/view.k;view.cy=drag.cy-ddy/view.k;showTip(-1);draw();return;}}
  var i=nearest(e.offsetX,e.offsetY);if(i!==hover){hover=i;draw();if(pinned<0)panel(i);}showTip(i,e.offsetX,e.offsetY);});
cv.addEventListener('mouseleave',function(){hover=-1;showTip(-1);if(pinned<0)panel(-1);draw();});
cv.addEventListener('dblclick',function(e){var i=nearest(e.offsetX,e.offsetY);var L=i>=0?link(i):'';if(L)window.location.href=L;});
cv.addEventListener('wheel',function(e){e.preventDefault();var f=Math.exp(-e.deltaY*0.0015),X=dx(e.offsetX),Y=dy(e.offsetY);view.k*=f;view.cx=X-(e.offsetX-W/2)/view.k;view.cy=Y-(e.offsetY-H/2)/view.k;draw();},{passive:false});
function resize(){var r=plot.getBoundingClientRect();dpr=window.devicePixelRatio||1;W=r.width;H=r.height;cv.width=Math.round(W*dpr);cv.height=Math.round(H*dpr);sprites.clear();if(!fitted){fit();baseK=view.k;fitted=true;}draw();}
window.addEventListener('resize',resize);
// #sae=NAME&feature=ID[&zoom=Z] pins a feature on load (and zooms in on it); #lines=1 draws the family lines; #colour=sae|density|label picks the colouring
function fromHash(){var h=new URLSearchParams(location.hash.replace(/^#/,''));if(h.get('lines')==='1'){famLines=true;document.getElementById('fl').checked=true;}var c=h.get('colour');if(c==='sae'||c==='density'||c==='label'){mode=c;cm.value=c;}
  var f=h.get('feature');if(f!==null){var s=0,nm=h.get('sae');if(nm!==null){s=S.findIndex(function(t){return t.name===nm;});}if(s>=0){var q=idx[s].get(parseInt(f,10));if(q!==undefined){select(q,true);var z=parseFloat(h.get('zoom'));if(z>0){view.k*=z;view.cx=PX[q];view.cy=PY[q];draw();}}}}}
legend();panel(-1);resize();fromHash();legend();
})();
)JS";

}  // namespace

std::string decoder_map_html(const DecoderMap& m, const MapHtmlOptions& o) {
    // the page's data: compact, coordinates to 3 decimals
    Json d = Json::object();
    d["link"] = o.link;
    d["min_cos"] = (double)o.family_min_cos;
    d["d_in"] = m.d_in;
    Json saes = Json::array();
    int64_t points = 0;
    for (size_t s = 0; s < m.saes.size(); s++) {
        const MapSae& t = m.saes[s];
        Json e = Json::object();
        e["name"] = t.name;
        e["path"] = t.path;
        e["arch"] = t.arch;
        e["d_sae"] = t.d_sae;
        e["color"] = kPalette[s % (sizeof kPalette / sizeof kPalette[0])];
        Json f = Json::array(), x = Json::array(), y = Json::array();
        for (size_t i = 0; i < t.feature.size(); i++) {
            f.push(Json((int64_t)t.feature[i]));
            x.push(Json(r3(t.x[i])));
            y.push(Json(r3(t.y[i])));
        }
        e["f"] = f;
        e["x"] = x;
        e["y"] = y;
        if (!t.density.empty()) {
            Json dd = Json::array();
            for (double v : t.density) dd.push(Json(v > 0 ? std::stod(strformat("%.4g", v)) : 0.0));
            e["den"] = dd;
        } else {
            e["den"] = Json();
        }
        e["lab"] = t.labels.empty() ? Json() : Json::array_of(t.labels);
        points += (int64_t)t.feature.size();
        saes.push(e);
    }
    d["saes"] = saes;
    Json fams = Json::array();
    for (const MapFamilies& f : m.families) {
        Json e = Json::object();
        e["s"] = f.small;
        e["l"] = f.large;
        Json mem = Json::array();
        for (size_t i = 0; i < f.members.size(); i++) {
            if (f.members[i].empty()) continue;
            Json r = Json::array();
            r.push(Json((int64_t)i));
            for (const MapFamilyMember& mm : f.members[i]) {
                r.push(Json((int64_t)mm.feature));
                r.push(Json(r4(mm.cosine)));
            }
            mem.push(r);
        }
        e["m"] = mem;
        Json par = Json::array();
        for (size_t g = 0; g < f.parent.size(); g++) {
            if (f.parent[g].feature < 0) continue;
            Json r = Json::array();
            r.push(Json((int64_t)g));
            r.push(Json((int64_t)f.parent[g].feature));
            r.push(Json(r4(f.parent[g].cosine)));
            par.push(r);
        }
        e["p"] = par;
        fams.push(e);
    }
    d["fam"] = fams;

    std::string sub = strformat("%lld decoder directions", (long long)points);
    if (m.saes.size() > 1) sub += strformat(" of %zu SAEs", m.saes.size());
    sub += strformat(" · d_in %lld · UMAP (cosine, %d neighbours, %s kNN, min_dist %g, seed %llu)", (long long)m.d_in,
                     m.umap.n_neighbors, m.knn_exact ? "exact" : "HNSW", m.umap.min_dist,
                     (unsigned long long)m.umap.seed);
    std::string h;
    h.reserve(4096 + (size_t)points * 40);
    h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    h += "<meta name=\"generator\" content=\"unfold sae map\">\n";
    h += "<title>" + xml_escape(o.title) + "</title>\n<style>" + std::string(kCss) + "</style>\n</head>\n<body>\n";
    h += "<header><div class=\"tt\"><h1>" + xml_escape(o.title) + "</h1><div class=\"sub\">" + xml_escape(sub) +
         "</div></div>";
    h += "<div class=\"ctl\"><input type=\"search\" id=\"q\" placeholder=\"feature id or label\" aria-label=\"search\">";
    h += "<label class=\"chk\"><input type=\"checkbox\" id=\"fl\">family lines</label>";
    h += "<select id=\"colour\" aria-label=\"colour by\"><option value=\"sae\">colour: SAE</option>"
         "<option value=\"density\">colour: density</option><option value=\"label\">colour: label</option></select>";
    h += "<button id=\"reset\" type=\"button\">reset view</button></div></header>\n";
    h += "<main><div id=\"plot\"><canvas id=\"cv\"></canvas><div id=\"tip\"></div><div id=\"count\"></div>";
    h += "<div id=\"help\">drag to pan · wheel to zoom · click pins a feature · double-click opens its page</div></div>\n";
    h += "<aside><div class=\"card\"><h2>SAEs</h2><div id=\"legend\"></div></div>";
    h += "<div class=\"card\"><h2>Colour</h2><div id=\"key\"></div></div>";
    h += "<div class=\"card\"><h2>Feature</h2><div id=\"sel\"></div></div></aside></main>\n";
    h += "<script type=\"application/json\" id=\"map-data\">" + script_safe(d.dump(-1)) + "</script>\n";
    h += "<script>" + std::string(kJs) + "</script>\n</body>\n</html>\n";
    return h;
}

}  // namespace unfold
