/** One-line summaries of messages for [SEND]/[RECV] log lines: what and whose, never the content. */
import type { Message } from '../protocol/messages.js';
import { chunksLength } from '../protocol/content.js';

export function describe(message: Message): string {
  switch (message.type) {
    case 'INSERT':
      return `INSERT ${message.data}`;
    case 'UPDATE':
      return `UPDATE from ${message.creator}: ${message.data.length} servers`;
    case 'PING':
      return `PING from ${message.from}`;
    case 'STREAM':
      return `STREAM from ${message.from}`;
    case 'HANDOVER':
      return `HANDOVER from ${message.from}`;
    case 'PING_REQ':
      return `PING_REQ for ${message.data} from ${message.from}`;
    case 'CHECK':
    case 'RING':
    case 'DIGEST':
      return message.type;
    case 'LIST':
      return `LIST of ${message.data.length} buckets`;
    case 'GET':
      return message.part
        ? `GET ${JSON.stringify(message.data)} bytes ${message.part.offset}+${message.part.length}`
        : `GET ${JSON.stringify(message.data)}`;
    case 'DELETE':
      return `DELETE ${JSON.stringify(message.data)}`;
    case 'PUT':
      return message.data.bytes
        ? `PUT ${JSON.stringify(message.data.item)} (${chunksLength(message.data.bytes)} bytes)`
        : `PUT ${JSON.stringify(message.data.item)} (${message.data.content.length} chars)`;
    case 'FORWARD_PUT':
      return `FORWARD_PUT ${JSON.stringify(message.data.item)} from ${message.creator}${message.lap ? ` (${message.lap} lap)` : ''}`;
    case 'FORWARD_GET':
      return `FORWARD_GET ${JSON.stringify(message.data.item)} from ${message.creator}`;
  }
}
