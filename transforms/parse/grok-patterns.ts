/**
 * The named patterns `%{NAME}` of `format: grok`, in the spirit of Logstash's and Vector's
 * grok libraries but written for this engine: every one of them runs in linear time (no
 * lookaround, no case-insensitive flag, no counted repetition above 16), which a test
 * checks. Captures use short field names (`client`, `status`, `level`, `msg`) that read well
 * in routes (`fields.status: "5*"`).
 *
 * Composite patterns for whole lines:
 *   SYSLOGLINE (RFC 3164), SYSLOG5424LINE (RFC 5424), SYSLOG (either);
 *   COMMONAPACHELOG, COMBINEDAPACHELOG, NGINXACCESS (nginx's default `combined` format),
 *   HTTPD_ERRORLOG (Apache 2.2 and 2.4), NGINX_ERRORLOG;
 *   JAVALOG (log4j / logback `%d [%t] %-5p %c - %m` and `%d %-5p [%t] %c: %m`),
 *   LOG4J and LOGBACK (both JAVALOG), SPRING_BOOT.
 */
export const GROK_PATTERNS: Readonly<Record<string, string>> = {
  // Text
  WORD: '\\b\\w+\\b',
  NOTSPACE: '\\S+',
  SPACE: '\\s*',
  DATA: '.*?',
  GREEDYDATA: '.*',
  QUOTEDSTRING: `"(?:[^"\\\\]|\\\\.)*"|'(?:[^'\\\\]|\\\\.)*'`,
  QS: '%{QUOTEDSTRING}',
  UUID: '[A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}',
  USERNAME: '[a-zA-Z0-9._-]+',
  USER: '%{USERNAME}',
  EMAILADDRESS: "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~.-]+@%{HOSTNAME}",
  LOGLEVEL:
    '(?:TRACE|[Tt]race|DEBUG|[Dd]ebug|NOTICE|[Nn]otice|INFO(?:RMATION)?|[Ii]nfo(?:rmation)?|WARN(?:ING)?|[Ww]arn(?:ing)?|ERR(?:OR)?|[Ee]rr(?:or)?|CRIT(?:ICAL)?|[Cc]rit(?:ical)?|FATAL|[Ff]atal|SEVERE|[Ss]evere|ALERT|[Aa]lert|EMERG(?:ENCY)?|[Ee]merg(?:ency)?)',
  // Numbers
  INT: '[+-]?\\d+',
  BASE10NUM: '[+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)',
  NUMBER: '%{BASE10NUM}',
  BASE16NUM: '[+-]?(?:0x)?[0-9A-Fa-f]+',
  POSINT: '\\b[1-9]\\d*\\b',
  NONNEGINT: '\\b\\d+\\b',
  // Network
  IPV4: '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(?:\\.(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}',
  // Loose on purpose (any hex groups with two colons or more, an IPv4 tail allowed): the exact
  // grammar needs counted repetitions the linear engine cannot hold.
  IPV6: '[0-9A-Fa-f]*:[0-9A-Fa-f]*:[0-9A-Fa-f:.]*(?:%[0-9A-Za-z]+)?',
  IP: '(?:%{IPV6}|%{IPV4})',
  HOSTNAME: '\\b[0-9A-Za-z][0-9A-Za-z_-]*(?:\\.[0-9A-Za-z][0-9A-Za-z_-]*)*\\.?\\b',
  IPORHOST: '(?:%{IP}|%{HOSTNAME})',
  HOSTPORT: '%{IPORHOST}:%{POSINT}',
  // Paths and URIs
  UNIXPATH: '(?:/[^/\\s]*)+',
  WINPATH: '(?:[A-Za-z]+:|\\\\)(?:\\\\[^\\\\\\s]*)+',
  PATH: '(?:%{UNIXPATH}|%{WINPATH})',
  URIPROTO: '[A-Za-z][A-Za-z0-9+.-]+',
  URIHOST: '%{IPORHOST}(?::%{POSINT})?',
  URIPATH: '/[^\\s?#]*',
  URIPARAM: '\\?[^\\s#]*',
  URIPATHPARAM: '%{URIPATH}(?:%{URIPARAM})?',
  URI: '%{URIPROTO}://(?:%{USER}(?::[^@\\s]*)?@)?(?:%{URIHOST})?(?:%{URIPATHPARAM})?',
  // Dates and times
  MONTH:
    '\\b(?:[Jj]an(?:uary)?|[Ff]eb(?:ruary)?|[Mm]ar(?:ch)?|[Aa]pr(?:il)?|[Mm]ay|[Jj]une?|[Jj]uly?|[Aa]ug(?:ust)?|[Ss]ep(?:t(?:ember)?)?|[Oo]ct(?:ober)?|[Nn]ov(?:ember)?|[Dd]ec(?:ember)?)\\b',
  MONTHNUM: '(?:0?[1-9]|1[0-2])',
  MONTHDAY: '(?:0[1-9]|[12]\\d|3[01]|[1-9])',
  DAY: '(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?|Sat(?:urday)?|Sun(?:day)?)',
  YEAR: '\\d\\d(?:\\d\\d)?',
  HOUR: '(?:2[0123]|[01]?\\d)',
  MINUTE: '[0-5]\\d',
  SECOND: '(?:[0-5]?\\d|60)(?:[.,]\\d+)?',
  TIME: '%{HOUR}:%{MINUTE}(?::%{SECOND})?',
  ISO8601_TIMEZONE: '(?:Z|[+-]%{HOUR}(?::?%{MINUTE})?)',
  TIMESTAMP_ISO8601: '%{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}(?::?%{SECOND})?%{ISO8601_TIMEZONE}?',
  HTTPDATE: '%{MONTHDAY}/%{MONTH}/%{YEAR}:%{TIME} [+-]\\d{4}',
  HTTPDERROR_DATE: '%{DAY} %{MONTH} %{MONTHDAY} %{TIME} %{YEAR}',
  SYSLOGTIMESTAMP: '%{MONTH} +%{MONTHDAY} %{TIME}',
  // Syslog
  SYSLOGHOST: '%{IPORHOST}',
  PROG: '[\\x21-\\x5a\\x5c\\x5e-\\x7e]+',
  SYSLOGPROG: '%{PROG:program}(?:\\[%{POSINT:pid:int}\\])?',
  SYSLOGLINE: '(?:<%{NONNEGINT:priority:int}>)?%{SYSLOGTIMESTAMP:time} %{SYSLOGHOST:hostname} %{SYSLOGPROG}: ?%{GREEDYDATA:msg}',
  SYSLOG5424SD: '(?:\\[(?:[^\\]\\\\]|\\\\.)*\\])+',
  SYSLOG5424LINE:
    '<%{NONNEGINT:priority:int}>%{NONNEGINT:version:int} (?:-|%{TIMESTAMP_ISO8601:time}) (?:-|%{IPORHOST:hostname}) (?:-|%{NOTSPACE:app_name}) (?:-|%{NOTSPACE:proc_id}) (?:-|%{NOTSPACE:msg_id}) (?:-|%{SYSLOG5424SD:structured_data})(?: %{GREEDYDATA:msg})?',
  SYSLOG: '(?:%{SYSLOG5424LINE}|%{SYSLOGLINE})',
  // Web servers
  HTTPDUSER: '(?:%{EMAILADDRESS}|%{USER})',
  COMMONAPACHELOG:
    '%{IPORHOST:client} (?:-|%{HTTPDUSER:ident}) (?:-|%{HTTPDUSER:user}) \\[%{HTTPDATE:time}\\] "(?:%{WORD:method} %{NOTSPACE:path}(?: HTTP/%{NUMBER:http_version})?|%{DATA:request})" %{NUMBER:status:int} (?:%{NUMBER:bytes:int}|-)',
  COMBINEDAPACHELOG: '%{COMMONAPACHELOG} "(?:-|%{DATA:referrer})" "(?:-|%{DATA:user_agent})"',
  NGINXACCESS: '%{COMBINEDAPACHELOG}(?: "(?:-|%{DATA:forwarded_for})")?',
  HTTPD20_ERRORLOG: '\\[%{HTTPDERROR_DATE:time}\\] \\[%{LOGLEVEL:level}\\] (?:\\[client %{IPORHOST:client}\\] )?%{GREEDYDATA:msg}',
  HTTPD24_ERRORLOG:
    '\\[%{HTTPDERROR_DATE:time}\\] \\[(?:%{WORD:module})?:%{LOGLEVEL:level}\\] \\[pid %{POSINT:pid:int}(?::tid %{INT:tid:int})?\\](?: \\[client %{IPORHOST:client}(?::%{POSINT:client_port:int})?\\])? (?:%{NOTSPACE:error_code}: )?%{GREEDYDATA:msg}',
  HTTPD_ERRORLOG: '(?:%{HTTPD24_ERRORLOG}|%{HTTPD20_ERRORLOG})',
  NGINX_ERRORLOG:
    '(?<time>\\d{4}/\\d\\d/\\d\\d \\d\\d:\\d\\d:\\d\\d) \\[%{LOGLEVEL:level}\\] %{POSINT:pid:int}#%{NONNEGINT:tid:int}: (?:\\*%{NONNEGINT:connection:int} )?%{GREEDYDATA:msg}',
  // Java
  JAVACLASS: '(?:[a-zA-Z$_][a-zA-Z$_0-9]*\\.)*[a-zA-Z$_][a-zA-Z$_0-9]*',
  JAVATHREAD: '[^\\]]*',
  JAVA_TIMESTAMP: '(?:%{TIMESTAMP_ISO8601}|%{TIME})',
  JAVALOG:
    '%{JAVA_TIMESTAMP:time} +(?:\\[%{JAVATHREAD:thread}\\] +%{LOGLEVEL:level}|%{LOGLEVEL:level} +\\[%{JAVATHREAD:thread}\\]) +%{JAVACLASS:logger}(?: +-|:) %{GREEDYDATA:msg}',
  LOG4J: '%{JAVALOG}',
  LOGBACK: '%{JAVALOG}',
  SPRING_BOOT:
    '%{TIMESTAMP_ISO8601:time} +%{LOGLEVEL:level} %{POSINT:pid:int} --- (?:\\[%{DATA:app}\\] )?\\[ *%{JAVATHREAD:thread}\\] %{JAVACLASS:logger} *: %{GREEDYDATA:msg}',
};
