/** One-line summaries of messages for [SEND]/[RECV] log lines: what and whose, never the content. */
import type { Message } from '../protocol/messages.js';

export function describe(message: Message): string {
  switch (message.type) {
    case 'INSERT':
      return `INSERT ${message.data}`;
    case 'UPDATE':
      return `UPDATE from ${message.creator}: ${message.data.length} servers`;
    case 'CHECK':
    case 'RING':
      return message.type;
    case 'GET':
      return `GET ${JSON.stringify(message.data)}`;
    case 'PUT':
      return `PUT ${JSON.stringify(message.data.item)} (${message.data.content.length} chars)`;
    case 'FORWARD_PUT':
    case 'FORWARD_GET':
      return `${message.type} ${JSON.stringify(message.data.item)} from ${message.creator}`;
  }
}
