// 民政数字驾驶舱: signs in, asks /api/cockpit/v1/indicators, draws panels and ECharts charts.
// Plain script, no build step. The access token lives in sessionStorage: it goes when the tab closes.
(function () {
  "use strict";
  var TOKEN_KEY = "cockpit.token", REFRESH_KEY = "cockpit.refresh", WHO_KEY = "cockpit.who",
      DISTRICT_KEY = "cockpit.district";
  var REFRESH_MS = 60000;
  var $ = function (id) { return document.getElementById(id); };
  var charts = [];
  var timer = null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function status(text, isError) {
    $("status").textContent = text || "";
    $("status").className = "status" + (isError ? " error" : "");
  }

  function format(value, unit) {
    if (value === null || value === undefined) return "—";
    if (unit === "元" && Math.abs(value) >= 10000) {
      return (value / 10000).toLocaleString("zh-CN", {maximumFractionDigits: 2}) + " 万";
    }
    return Number(value).toLocaleString("zh-CN", {maximumFractionDigits: 2});
  }

  function targetText(ind) {
    if (ind.target === null || ind.target === undefined) return "";
    var sign = ind.target_rule === "more_than" ? "> " : "≥ ";
    return (ind.target_scope === "city" ? "全市目标 " : "目标 ") + sign + format(ind.target, ind.unit) + " " + ind.unit;
  }

  function showSignIn(message) {
    stopTimer();
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(REFRESH_KEY);
    $("controls").hidden = true;
    $("panels").textContent = "";
    disposeCharts();
    $("sign-in").hidden = false;
    $("sign-in-error").textContent = message || "";
    status("");
    $("username").focus();
  }

  function disposeCharts() {
    charts.forEach(function (c) { c.dispose(); });
    charts = [];
  }

  function stopTimer() { if (timer) { clearInterval(timer); timer = null; } }

  async function signIn(event) {
    event.preventDefault();
    $("sign-in-error").textContent = "";
    $("sign-in-button").disabled = true;
    try {
      var response = await fetch("/api/auth/v1/staff-sign-ins", {
        method: "POST", headers: {"content-type": "application/json"},
        body: JSON.stringify({username: $("username").value.trim(), password: $("password").value})
      });
      if (!response.ok) {
        var words = response.status === 401 ? "用户名或密码不正确，或账号已被暂时锁定" :
          response.status === 429 ? "登录尝试过于频繁，请稍后再试" : "登录失败（HTTP " + response.status + "）";
        $("sign-in-error").textContent = words;
        return;
      }
      var body = await response.json();
      keep(body);
      sessionStorage.setItem(WHO_KEY, $("username").value.trim());
      $("password").value = "";
      start();
    } catch (e) {
      $("sign-in-error").textContent = "无法连接服务器，请检查网络后重试";
    } finally {
      $("sign-in-button").disabled = false;
    }
  }

  function keep(tokens) {
    sessionStorage.setItem(TOKEN_KEY, tokens.access_token);
    if (tokens.refresh_token) sessionStorage.setItem(REFRESH_KEY, tokens.refresh_token);
  }

  // Access tokens last 15 minutes; a screen left open renews its own with the rotating refresh token.
  async function renew() {
    var refresh = sessionStorage.getItem(REFRESH_KEY);
    if (!refresh) return false;
    try {
      var response = await fetch("/api/auth/v1/token", {
        method: "POST", headers: {"content-type": "application/x-www-form-urlencoded"},
        body: new URLSearchParams({grant_type: "refresh_token", refresh_token: refresh}).toString()
      });
      if (!response.ok) return false;
      keep(await response.json());
      return true;
    } catch (e) {
      return false;
    }
  }

  function signOut() {
    sessionStorage.removeItem(WHO_KEY);
    sessionStorage.removeItem(DISTRICT_KEY);
    showSignIn("已退出登录");
  }

  function start() {
    $("sign-in").hidden = true;
    $("controls").hidden = false;
    $("who").textContent = sessionStorage.getItem(WHO_KEY) || "";
    load();
    stopTimer();
    timer = setInterval(function () { load(); }, REFRESH_MS);
  }

  async function load(renewed) {
    var token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) return showSignIn();
    var district = sessionStorage.getItem(DISTRICT_KEY) || "";
    status("正在加载指标…");
    var response;
    try {
      var query = district ? "?district=" + encodeURIComponent(district) : "";
      response = await fetch("/api/cockpit/v1/indicators" + query, {headers: {authorization: "Bearer " + token}});
    } catch (e) {
      return status("无法连接服务器，数据未更新；稍后将自动重试", true);
    }
    if (response.status === 401) {
      if (!renewed && await renew()) return load(true);
      return showSignIn("登录已过期，请重新登录");
    }
    if (response.status === 403) {
      sessionStorage.removeItem(DISTRICT_KEY);
      var problem = {};
      try { problem = await response.json(); } catch (e) { /* words below suffice */ }
      return status("无权查看该地区的指标" + (problem.detail ? "（" + problem.detail + "）" : ""), true);
    }
    if (!response.ok) return status("指标服务暂时不可用（HTTP " + response.status + "），稍后将自动重试", true);
    var data = await response.json();
    render(data);
  }

  function fillDistricts(data) {
    var select = $("district");
    var chosen = data.area_code;
    select.textContent = "";
    var many = data.districts.length > 1;  // city staff choose; district staff see their own only
    var mine = el("option", null, many ? "全市" : data.area_name);
    mine.value = "";
    select.appendChild(mine);
    if (many) data.districts.forEach(function (d) {
      var option = el("option", null, d.name);
      option.value = d.code;
      if (d.code === chosen) option.selected = true;
      select.appendChild(option);
    });
    select.disabled = !many;
  }

  function render(data) {
    fillDistricts(data);
    disposeCharts();
    var root = $("panels");
    root.textContent = "";
    var time = new Date(data.generated_at).toLocaleTimeString("zh-CN", {hour12: false});
    var down = data.panels.filter(function (p) { return !p.available; }).length;
    status(data.area_name + " · 数据时间 " + time + (data.cached ? "（缓存）" : "") +
           (down ? " · " + down + " 个板块暂不可用" : ""), false);
    data.panels.forEach(function (panel) { root.appendChild(renderPanel(panel)); });
    data.panels.forEach(function (panel) {
      (panel.charts || []).forEach(function (chart) { drawChart(chart); });
    });
  }

  function renderPanel(panel) {
    var card = el("article", "panel" + (panel.available ? "" : " unavailable"));
    card.dataset.service = panel.service;
    var h = el("h2", null, panel.title);
    if (panel.as_of) h.appendChild(el("small", null, "截至 " + panel.as_of));
    card.appendChild(h);
    if (panel.message) card.appendChild(el("p", "notice", panel.message));
    if (panel.area_note) card.appendChild(el("p", "notice", panel.area_note));
    if (!panel.available) return card;
    var list = el("div", "inds");
    panel.indicators.forEach(function (ind) { list.appendChild(renderIndicator(ind)); });
    card.appendChild(list);
    (panel.charts || []).forEach(function (chart) {
      var box = el("div", "chart");
      box.id = "chart-" + chart.code.replace(/\W/g, "-");
      box.setAttribute("role", "img");
      box.setAttribute("aria-label", chart.title);
      card.appendChild(box);
    });
    return card;
  }

  function renderIndicator(ind) {
    var met = ind.target_met === true, unmet = ind.target_met === false;
    var box = el("div", "ind" + (ind.available ? "" : " missing") + (met ? " met" : ""));
    box.dataset.code = ind.code;
    box.appendChild(el("div", "label", ind.label));
    var value = el("div", "value", ind.available ? format(ind.value, ind.unit) : "暂无数据");
    if (ind.available) {
      value.dataset.value = ind.value;
      value.appendChild(el("span", "unit", ind.unit === "元" && Math.abs(ind.value) >= 10000 ? "元" : ind.unit));
    }
    box.appendChild(value);
    if (ind.alert) {
      box.classList.add("alert");
      box.setAttribute("role", "alert");
      box.appendChild(el("div", "target", "")).appendChild(el("span", "badge unmet", "需处理"));
    }
    var target = targetText(ind);
    if (target) {
      var line = el("div", "target", target);
      if (met) line.appendChild(el("span", "badge met", "已达标"));
      if (unmet) line.appendChild(el("span", "badge unmet", "未达标"));
      box.appendChild(line);
    }
    if (ind.progress !== null && ind.progress !== undefined) {
      var bar = el("div", "progress");
      bar.setAttribute("role", "progressbar");
      bar.setAttribute("aria-valuenow", Math.round(ind.progress * 100));
      bar.title = "完成 " + Math.round(ind.progress * 100) + "%";
      var fill = el("span");
      fill.style.width = Math.round(ind.progress * 100) + "%";
      bar.appendChild(fill);
      box.appendChild(bar);
      box.appendChild(el("div", "note", "完成 " + Math.round(ind.progress * 100) + "%"));
    }
    if (ind.note) box.appendChild(el("div", "note", ind.note));
    return box;
  }

  function drawChart(chart) {
    var box = document.getElementById("chart-" + chart.code.replace(/\W/g, "-"));
    if (!box) return;
    if (typeof echarts === "undefined") {
      box.textContent = "图表组件未能加载，数字指标不受影响";
      return;
    }
    var total = chart.series.reduce(function (n, s) {
      return n + s.values.reduce(function (a, b) { return a + (b || 0); }, 0);
    }, 0);
    if (!chart.categories.length || total === 0) {
      box.style.height = "auto";
      box.appendChild(el("p", "notice", chart.title + "：暂无数据"));
      return;
    }
    var instance = echarts.init(box, null, {renderer: "canvas"});
    instance.setOption({
      title: {text: chart.title, left: 0, textStyle: {fontSize: 14}},
      tooltip: {trigger: "axis"},
      legend: {show: chart.series.length > 1, top: 22, type: "scroll"},
      grid: {left: 40, right: 12, top: chart.series.length > 1 ? 64 : 52, bottom: 28, containLabel: true},
      xAxis: {type: "category", data: chart.categories,
              axisLabel: {interval: 0, rotate: chart.categories.length > 5 ? 30 : 0}},
      yAxis: {type: "value", name: chart.unit, minInterval: 1},
      series: chart.series.map(function (s) {
        var stacked = chart.kind === "bar" && chart.series.length > 1;  // programmes per district add up
        return {name: s.name, type: chart.kind, data: s.values, stack: stacked ? "all" : undefined,
                label: {show: chart.series.length === 1 && chart.kind === "bar", position: "top"}};
      })
    });
    charts.push(instance);
  }

  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("refresh").addEventListener("click", function () { load(); });
  $("district").addEventListener("change", function (event) {
    sessionStorage.setItem(DISTRICT_KEY, event.target.value);
    load();
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });

  if (sessionStorage.getItem(TOKEN_KEY)) start(); else showSignIn();
})();
