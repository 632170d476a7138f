/** protocol: the uwsgi codec and the CGI mapping. */
export { UwsgiRequestParser, encodePacket, decodePacket, type UwsgiPacket, type ParserOptions } from './uwsgi.js';
export { cgiToRequest, requestToCgi, type CgiRequest, type RouterRequestInfo } from './cgi.js';
