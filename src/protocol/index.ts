/** protocol: the uwsgi wire codec and the CGI mapping; no sockets, no app code. */
export { UwsgiRequestParser, encodePacket, decodePacket, REQUEST_MODIFIERS, UWSGI_HEADER_SIZE, UWSGI_MAX_DATASIZE, type UwsgiPacket, type ParserOptions } from './uwsgi.js';
export { cgiToRequest, requestToCgi, percentDecode, type CgiRequest, type RouterRequestInfo } from './cgi.js';
